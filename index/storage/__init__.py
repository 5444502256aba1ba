"""Storage: index versions on disk (a folder each) or in PostgreSQL, behind one seam (base)."""
