"""Retrieval: a question made a query, scored by BM25 and dense cosine, fused and ranked."""
