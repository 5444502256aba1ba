"""`newsbot follow`: the followed topics, what a topic would have matched, and why an article
did or did not match it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..settings import Settings

REASONS = {
    "matched": "matched: the judge finds the topic covered and every check passes",
    "covered": "not matched: covered for answering, but a stricter alert check failed "
    "(a one-kanji word missing, a margin below the alert margin, or an English word "
    "none of whose Japanese spellings is in the article)",
    "missing": "not matched: the article lacks {missing}",
    "far": "not matched: its sentences are not close enough in meaning (margin {margin:+.3f})",
}


def add_parser(sub) -> None:
    f = sub.add_parser("follow", help="followed topics; test a topic against the coverage")
    f.add_argument("--test", metavar="TOPIC", help="print what TOPIC would have matched")
    f.add_argument("--days", type=int, default=7, help="with --test: the last N days (0: any)")
    f.add_argument("--limit", type=int, default=10, help="with --test: at most this many")
    f.add_argument(
        "--why", nargs=2, metavar=("ARTICLE", "TOPIC"), help="explain one article (URL or file)"
    )
    f.add_argument("--eval", type=Path, metavar="JSONL", help="precision/recall on labelled pairs")
    f.add_argument("--json", action="store_true", help="JSON output")
    f.set_defaults(func=cmd_follow)


def cmd_follow(args, settings: Settings) -> int:
    if not (args.test or args.why or args.eval):
        return _list(settings, args.json)
    searcher = args.open_searcher(settings.index, load=True)  # bot/searchers.py: the one way
    if args.eval:
        return _eval(searcher, args.eval, args.json)
    if args.why:
        return _why(searcher, *args.why, args.json)
    return _test(searcher, args.test, args.days or None, args.limit, args.json)


def _list(settings: Settings, as_json: bool) -> int:
    """Topics by member or channel, numbered: Discord ids are never printed."""
    from index.follow import open_for
    from index.storage import open_store

    store = open_for(
        open_store(settings.index, settings.index.index_dir),
        settings.index.data_dir,
        settings.follow_key,
        settings.token,
    )
    try:
        subs = store.subscriptions()
    finally:
        store.close()
    number: dict[tuple[str, str], int] = {}
    rows = []
    for s in subs:
        n = number.setdefault((s.kind, s.who), len(number) + 1)
        rows.append({"who": f"{s.kind} #{n}", "topic": s.topic, "paused": s.paused})
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        print("No topics are followed yet (/follow TOPIC in Discord).")
    for r in [] if as_json else rows:
        paused = f"  (paused: {r['paused']})" if r["paused"] else ""
        print(f"{r['who']:<12} {r['topic']}{paused}")
    return 0


def _test(searcher, topic: str, days: int | None, limit: int, as_json: bool) -> int:
    from index.follow import recent

    now = dt.datetime.now(dt.UTC)
    found = recent(searcher, topic, days, limit, now)
    if as_json:
        print(json.dumps([f.payload for f in found], ensure_ascii=False))
        return 0
    span = f"in the last {days} days" if days else "in the coverage"
    print(f"{len(found)} article(s) {span} match {topic!r}:")
    for f in found:
        p = f.payload
        print(f"- {f.published}  {p['articles'][0]['title']}  (margin {f.match.margin:+.3f})")
        for q in p["quotes"]:
            print(f"    「{q}」 {p['url']}")
    return 0


def _why(searcher, article: str, topic: str, as_json: bool) -> int:
    from index.follow import why

    m = why(searcher, article, topic)
    if m.matched:
        reason = REASONS["matched"]
    elif m.missing:
        reason = REASONS["missing"].format(missing=", ".join(m.missing))
    elif m.covered:
        reason = REASONS["covered"]
    else:
        reason = REASONS["far"].format(margin=m.margin)
    if as_json:
        out = {"article": m.article, "topic": topic, "matched": m.matched, "reason": reason}
        out |= {"margin": m.margin, "covered": m.covered, "missing": list(m.missing)}
        print(json.dumps(out | {"quotes": list(m.quotes)}, ensure_ascii=False))
        return 0
    print(f"{m.article}: {reason}")
    print(f"  margin {m.margin:+.3f}, covered {m.covered}, lexical {m.lexical:.2f}")
    for q in m.quotes:
        print(f"  「{q}」")
    return 0 if m.matched else 1


def _eval(searcher, path: Path, as_json: bool) -> int:
    from index.follow import figures, judged, load_pairs

    f = figures(judged(searcher, load_pairs(path)))
    if as_json:
        print(json.dumps(f, ensure_ascii=False))
        return 0
    print(f"pairs {f['pairs']} (matching {f['matching']}), margin {f['margin']:+.3f}")
    print(f"precision {f['precision']:.3f}  recall {f['recall']:.3f}")
    for topic, article in f["false_matches"]:
        print(f"  false match: {topic} / {article}")
    for topic, article in f["missed"]:
        print(f"  missed:      {topic} / {article}")
    return 0
