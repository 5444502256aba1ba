"""The PostgreSQL backend: index versions as tables, pgvector for the dense side."""
