"""Ingest: pages and feeds fetched, their article text extracted and written as articles."""
