"""One page added end to end, a feed of 100 unchanged items polled; extraction F1; slow servers."""

# .venv/bin/python benchmarks/add_feed.py [--runs 5] [--json]
#
# Everything is served by the tests' local news site on 127.0.0.1 (tests/page_server.py), so the
# figures are newsbot's own work, not a network's. "Add one page" is what `/add` and a feed item
# cost in the running bot: fetch, extract, write, and the incremental reindex of an index of the
# seed article and the test corpus (the model already loaded). The feed polls are over a feed of
# 100 items already added: (a) the feed answers 304 to its conditional request; (b) the feed is
# served again (new ETag) with the same item dates, so no page is requested; (c) every item's date
# changed, so each page is requested conditionally and answers 304.

from __future__ import annotations

import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

# This checkout's code and its tests' local site, even where another checkout is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CACHE, ROOT, emit, median, ms, options, parser, real_embedder, setup  # noqa: E402

from index import Searcher  # noqa: E402
from index.errors import FetchError  # noqa: E402
from index.ingest.articles import add_url  # noqa: E402
from index.ingest.extract import extract  # noqa: E402
from index.ingest.feeds import poll  # noqa: E402
from index.ingest.fetch import FetchLimits, fetch  # noqa: E402
from tests.page_server import EXPECTED, GOOD, PAGES, Site  # noqa: E402

LIMITS = FetchLimits(allow_private=True)
ADD = ["typhoon", "boj-rate", "sports-graph", "tech-blog", "culture-modified", "economy-divs"]
ITEMS = 100


def char_f1(got: str, want: str) -> float:
    a, b = Counter("".join(got.split())), Counter("".join(want.split()))
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


def extraction_f1(site: Site) -> dict:
    scores, metadata = {}, {}
    for name in GOOD:
        path = f"/amp/{name}" if name.startswith("amp-") else f"/articles/{name}"
        response = fetch(site.url(path), LIMITS)
        article = extract(response.text(), response.url)
        got = article.plain()
        scores[name] = round(char_f1(got, (PAGES / f"{name}.body.txt").read_text("utf-8")), 4)
        if name in EXPECTED:
            found = {"title": article.title, "published": article.published}
            found["outlet"] = article.outlet
            wrong = [k for k, v in EXPECTED[name].items() if found[k] != v]
            metadata[name] = {"f1": scores[name], "wrong": wrong or "none"}
    values = list(scores.values())
    return {
        "pages": len(values),
        "mean": round(sum(values) / len(values), 4),
        "min": min(values),
        # Old table layouts and titles carrying the site's name: F1 and wrong title/date/outlet.
        "by_page": metadata,
    }


def slow_servers(site: Site) -> dict:
    """How long a fetch takes against servers that drip, with a 1 s limit for the whole fetch."""
    limits = FetchLimits(allow_private=True, timeout_seconds=1.0)
    out = {}
    for label, path in (("headers_dripped", "/slowheaders/"), ("body_dripped", "/drip/")):
        started = time.perf_counter()
        try:
            fetch(site.url(path), limits)
            outcome = "fetched"
        except FetchError as e:
            outcome = str(e)
        out[label] = {"ms": ms(time.perf_counter() - started), "outcome": outcome}
    return out


def base_index(embedder) -> tuple:
    """The seed article and the test corpus, indexed once (kept in the cache)."""
    base = CACHE / "add-feed-base"
    if not (base / "data" / "index" / "CURRENT").exists():
        shutil.rmtree(base, ignore_errors=True)
        (base / "articles").mkdir(parents=True)
        for path in [
            *(ROOT / "tests" / "data" / "articles").glob("*.md"),
            *ROOT.glob("articles/*.md"),
        ]:
            shutil.copy(path, base / "articles")
        Searcher.open(
            options(articles_dir=base / "articles", data_dir=base / "data"), embedder=embedder
        )
    return base


def add_one_page(site: Site, embedder, runs: int) -> dict:
    base = base_index(embedder)
    totals, adds, reindexes = [], [], []
    for run in range(runs):
        work = CACHE / "add-feed-work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work)
        opts = options(articles_dir=work / "articles", data_dir=work / "data")
        searcher = Searcher.open(opts, build_missing=False, embedder=embedder)
        name = ADD[run % len(ADD)]
        started = time.perf_counter()
        added = add_url(site.url(f"/articles/{name}"), opts.articles_dir, LIMITS)
        written = time.perf_counter()
        report = searcher.reindex()
        done = time.perf_counter()
        assert added.status == "added" and report.added == [added.file], (added, report)
        totals.append(done - started)
        adds.append(written - started)
        reindexes.append(done - written)
    return {
        "runs": runs,
        "median_ms": ms(median(totals)),
        "fetch_extract_write_ms": ms(median(adds)),
        "incremental_reindex_ms": ms(median(reindexes)),
    }


def bench_pages(site: Site, stamp: str) -> None:
    """100 distinct pages and an RSS feed of them, dated `stamp`."""
    html = (PAGES / "boj-rate.html").read_text("utf-8")
    items = []
    for i in range(ITEMS):
        page = html.replace("{BASE}/articles/boj-rate", f"{site.base}/bench/{i}")
        page = page.replace("{BASE}", site.base).replace("日本銀行は24日", f"日本銀行は第{i}回")
        site.overrides[f"/bench/{i}"] = (page.encode(), "text/html; charset=utf-8")
        items.append(f"<item><title>記事{i}</title><link>/bench/{i}</link>{stamp}</item>")
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>{"".join(items)}'
    site.overrides["/feeds/bench.xml"] = (
        (rss + "</channel></rss>").encode(),
        "application/rss+xml; charset=utf-8",
    )


def feed_polls(site: Site, runs: int) -> dict:
    work = CACHE / "feed-work"
    shutil.rmtree(work, ignore_errors=True)
    articles, state = work / "articles", work / "feeds.json"
    feed = [site.url("/feeds/bench.xml")]
    bench_pages(site, "<pubDate>Fri, 24 Jan 2025 04:05:00 GMT</pubDate>")
    started = time.perf_counter()
    first = poll(feed, articles, state, LIMITS)
    cold = time.perf_counter() - started
    assert len(first.changed) == ITEMS, (len(first.changed), first.failed[:3])

    def timed(prepare) -> tuple[float, int, object]:
        times, requests, report = [], 0, None
        for run in range(runs):
            prepare(run)
            before = len(site.requests)
            started = time.perf_counter()
            report = poll(feed, articles, state, LIMITS)
            times.append(time.perf_counter() - started)
            requests = len(site.requests) - before
            assert report.changed == [] and not report.failed, report
        return median(times), requests, report

    not_modified = timed(lambda run: None)
    # A feed served anew (its ETag changes) whose items keep their dates.
    rss, kind = site.overrides["/feeds/bench.xml"]

    def reserve(run):
        site.overrides["/feeds/bench.xml"] = (
            rss.replace(b"<title>bench", f"<title>b{run}".encode()),
            kind,
        )

    same_dates = timed(reserve)

    def redate(run):
        new = re.sub(rb"04:05:00", f"04:{run:02d}:01".encode(), rss)
        site.overrides["/feeds/bench.xml"] = (new, kind)

    pages_304 = timed(redate)
    return {
        "items": ITEMS,
        "first_poll_adding_all_ms": ms(cold),
        "feed_304_ms": ms(not_modified[0]),
        "feed_304_requests": not_modified[1],
        "feed_200_same_dates_ms": ms(same_dates[0]),
        "feed_200_same_dates_requests": same_dates[1],
        "items_redated_pages_304_ms": ms(pages_304[0]),
        "items_redated_pages_304_requests": pages_304[1],
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args()
    setup(args)
    embedder = real_embedder(options())
    with Site() as site:
        figures = {
            "extraction_f1": extraction_f1(site),
            "slow_servers_1s_limit": slow_servers(site),
            "add_one_page": add_one_page(site, embedder, args.runs),
            "feed_poll_100_unchanged": feed_polls(site, args.runs),
        }
    emit(__doc__.splitlines()[0], figures, args.json)


if __name__ == "__main__":
    main()
