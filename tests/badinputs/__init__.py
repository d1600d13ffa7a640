"""Generated bad-input fixtures and their builders (tests only)."""
