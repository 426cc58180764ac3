"""Small shared helpers (atomic file writes, image I/O)."""
