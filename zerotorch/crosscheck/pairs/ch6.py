"""Registry entries for ch6 (filled by the chapter work)."""
