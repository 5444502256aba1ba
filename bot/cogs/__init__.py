"""discord.py extensions, one per concern: asking, administration, ingest (pages and feeds)."""
