"""/follow: matching a poll's new articles against 1,000 followed topics, per article.

# .venv/bin/python benchmarks/follow_match.py [--corpus DIR] [--topics 1000] [--articles 20]

The corpus is jsquad-dev (public: JGLUE's JSQuAD valid split as articles, /work/shared/eval; a
real-model index of it is built once and cached). The topics are short subject phrases taken
from its questions (judge.subject_terms), the first --topics distinct ones: what members type
into /follow, and many of them match several articles, the costly case. Each of --articles
articles is matched as a poll's new article (index/follow/match.match_article: one matrix
product for every topic, then the full judgement for the topics near the article). Printed
beside it, in the same run: encoding the topics once (at /follow time; cached after), judging
every topic without the first pass (on --full topics, scaled), and answering one question
(Searcher.ask), the longest a worker thread runs for the bot today.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from _common import JSQUAD, ROOT, emit, jsquad_searcher, median, ms, one_thread, parser, setup

sys.path.insert(0, str(ROOT))

from index.corpus.text import normalize  # noqa: E402
from index.follow import judge, match_article, passages_of, topics  # noqa: E402
from index.follow.match import article_text  # noqa: E402
from index.retrieval.terms import subject_terms  # noqa: E402


def topic_texts(
    corpus: Path, n: int, texts: list[str] | None = None, most: int = 0, skip=frozenset()
) -> list[str]:
    """The first n distinct subject terms of the questions (not those of the skip articles);
    with most, only terms at most that many articles (texts) contain: a subject, not a word
    every article uses."""
    out: dict[str, None] = {}
    for line in (corpus / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip() or json.loads(line)["article"] in skip:
            continue
        for term in subject_terms(normalize(json.loads(line)["question"])):
            if not 2 <= len(term) <= 12 or term in out:
                continue
            if most and sum(term in t for t in texts or ()) > most:
                continue
            out.setdefault(term)
        if len(out) >= n:
            break
    return list(out)[:n]


def per_article(index, followed, articles, opts) -> dict:
    """match_article's time per article (median, max) and how many topics it judged, matched."""
    per, judged, matched = [], 0, 0
    for article in articles:
        started = time.perf_counter()
        found = match_article(index, article, followed, opts)
        per.append(time.perf_counter() - started)
        judged += sum(m.judged for m in found)
        matched += sum(m.matched for m in found)
    return {
        "match_per_article_median_ms": round(ms(median(per)), 1),
        "match_per_article_max_ms": round(ms(max(per)), 1),
        "judged_per_article": round(judged / len(articles), 1),
        "matched_per_article": round(matched / len(articles), 1),
    }


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=JSQUAD)
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--articles", type=int, default=20)
    p.add_argument("--full", type=int, default=20, help="topics judged without the first pass")
    p.add_argument("--most", type=int, default=3, help="a subject: in at most this many articles")
    args = p.parse_args()
    setup(args)
    searcher = jsquad_searcher()
    index, opts = searcher.index, searcher.options
    everything = sorted({s["article"] for s in index.sections})
    bodies = [article_text(index, passages_of(index, a)) for a in everything]
    # The new articles are the last ones; the topics come from the others' questions, as
    # members follow subjects of the coverage they have read (any term: from all questions).
    articles = everything[-args.articles :]
    texts = topic_texts(args.corpus, args.topics)
    specific = topic_texts(args.corpus, args.topics, bodies, args.most, frozenset(articles))
    figures = {"corpus": str(args.corpus), "passages": index.size, "articles": len(articles)}
    with one_thread():
        started = time.perf_counter()
        followed = topics(index, searcher.embedder, texts, opts)
        figures["encode_topics_once_ms"] = round(ms(time.perf_counter() - started), 1)
        topics(index, searcher.embedder, specific, opts)
        for name, chosen in (
            ("any term", texts),
            (f"earlier subjects, in <= {args.most} articles", specific),
        ):
            figures[f"[{name}] topics"] = len(chosen)
            run = topics(index, searcher.embedder, chosen, opts)  # cached: no encoding here
            figures |= {
                f"[{name}] {k}": v for k, v in per_article(index, run, articles, opts).items()
            }
        full = []
        for article in articles[:3]:
            pids = passages_of(index, article)
            started = time.perf_counter()
            for t in followed[: args.full]:
                judge(index, t, article, pids, opts)
            full.append((time.perf_counter() - started) / args.full * len(followed))
        asks = []
        for q in texts[:20]:
            started = time.perf_counter()
            searcher.ask(f"{q}について教えて")
            asks.append(time.perf_counter() - started)
    figures |= {
        "judge_every_topic_per_article_ms (baseline)": round(ms(median(full)), 1),
        "ask_median_ms (baseline)": round(ms(median(asks)), 1),
        "ask_max_ms (baseline)": round(ms(max(asks)), 1),
    }
    emit("follow: matching new articles against followed topics", figures, args.json)


if __name__ == "__main__":
    main()
