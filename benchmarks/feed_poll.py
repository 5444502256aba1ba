"""A poll over dead and live feed items: one at a time (the old poll) against a few at a time."""

# .venv/bin/python benchmarks/feed_poll.py [--dead 20] [--live 60] [--timeout 1] [--json]
#
# Served by the tests' local news site on 127.0.0.1 (tests/page_server.py). "Dead" items are
# pages that never answer within `timeout_seconds` (the site's /slow route); "live" ones are
# distinct copies of a test article. Each case is polled from an empty state with WORKERS = 1
# (the poll before issue 30: one item after another) and with the default WORKERS, in the same
# run; then once with the dead items and a poll deadline, to show where a poll stops.

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import emit, parser, setup  # noqa: E402

from index.ingest import feeds  # noqa: E402
from index.ingest.fetch import FetchLimits  # noqa: E402
from tests.page_server import Site  # noqa: E402


def feed_of(site: Site, name: str, paths: list[str]) -> str:
    items = "".join(f"<item><title>{p}</title><link>{p}</link></item>" for p in paths)
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    rss = f"{head}{items}</channel></rss>"
    site.overrides[f"/{name}.xml"] = (rss.encode(), "application/rss+xml; charset=utf-8")
    return site.url(f"/{name}.xml")


def live_pages(site: Site, count: int) -> list[str]:
    html = site.page("boj-rate")[0].decode("utf-8")
    paths = []
    for i in range(count):
        path = f"/live/{i}"
        page = html.replace(site.url("/articles/boj-rate"), site.url(path))
        page = page.replace("日本銀行は24日", f"日本銀行は第{i}回の会合で")
        site.overrides[path] = (page.encode(), "text/html; charset=utf-8")
        paths.append(path)
    return paths


def timed_poll(url: str, limits: FetchLimits, workers: int, **kwargs) -> tuple[float, object]:
    feeds.WORKERS = workers
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = feeds.poll([url], Path(tmp) / "a", Path(tmp) / "feeds.json", limits, **kwargs)
        return time.perf_counter() - start, report


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--dead", type=int, default=20, help="items that never answer in time")
    p.add_argument("--live", type=int, default=60, help="items that are real pages")
    p.add_argument("--timeout", type=float, default=1.0, help="fetch.timeout_seconds")
    args = p.parse_args()
    setup(args)
    limits = dataclasses.replace(FetchLimits(allow_private=True), timeout_seconds=args.timeout)
    default = feeds.WORKERS
    figures = {"dead_items": args.dead, "live_items": args.live, "timeout_s": args.timeout}
    with Site() as site:
        dead = feed_of(site, "dead", [f"/slow/{i}" for i in range(args.dead)])
        live = feed_of(site, "live", live_pages(site, args.live))
        for name, url in (("dead", dead), ("live", live)):
            for workers in (1, default):
                seconds, report = timed_poll(url, limits, workers)
                figures[f"{name}_workers{workers}_s"] = round(seconds, 2)
                figures[f"{name}_workers{workers}_failed"] = len(report.failed)
                figures[f"{name}_workers{workers}_changed"] = len(report.changed)
        deadline = 3 * args.timeout
        seconds, report = timed_poll(dead, limits, default, deadline_seconds=deadline)
        figures["dead_deadline_s"] = deadline
        figures["dead_with_deadline_s"] = round(seconds, 2)
        figures["dead_with_deadline_left"] = report.deferred
    feeds.WORKERS = default
    emit("feed poll: dead and live items", figures, args.json)


if __name__ == "__main__":
    main()
