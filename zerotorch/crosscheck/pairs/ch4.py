"""Registry entries for ch4 (filled by the chapter work)."""
