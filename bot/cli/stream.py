"""Many questions answered in order, each handed out as soon as it is ready (`newsbot ask -`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

# The first chunk is small so the first answer comes quickly; later ones are larger so the
# worker's encode runs long enough to hide behind the answer step.
FIRST_CHUNK = 8
LARGEST_CHUNK = 64


def chunks(n: int) -> list[range]:
    """Consecutive ranges over n questions, doubling from FIRST_CHUNK up to LARGEST_CHUNK."""
    out, start, size = [], 0, max(1, FIRST_CHUNK)
    while start < n:
        out.append(range(start, min(n, start + size)))
        start += size
        size = min(LARGEST_CHUNK, size * 2)
    return out


def answered(searcher, questions: Sequence[str], k: int | None = None, filters=None) -> Iterator:
    """Each question's Answer, in order: the next chunk is encoded on a worker thread while this
    chunk is ranked and answered (the encoder runs outside the GIL; the index and its store are
    used by the calling thread only).

    An error in a chunk is raised once every answer before that chunk was handed out.
    """
    parts = chunks(len(questions))
    if not parts:
        return

    def encode(rows: range):
        queries = [searcher.query(questions[i]) for i in rows]
        live = [q.searched_normal for q in queries if not q.lacks_subject]
        return queries, searcher.embedder.encode_queries(live)

    with ThreadPoolExecutor(1, thread_name_prefix="newsbot-encode") as pool:
        ahead = pool.submit(encode, parts[0])
        for n in range(len(parts)):
            queries, vectors = ahead.result()
            if n + 1 < len(parts):
                ahead = pool.submit(encode, parts[n + 1])
            index, rankings = searcher.rank(queries, filters, vectors=vectors)
            for ranking in rankings:
                yield searcher.respond(index, ranking, k)
