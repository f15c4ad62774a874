"""Registry entries for ch7 (filled by the chapter work)."""
