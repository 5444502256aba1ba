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

from index.answer.judge import subject_terms  # noqa: E402
from index.corpus.text import normalize  # noqa: E402
from index.follow import judge, match_article, passages_of, topics  # noqa: E402


def topic_texts(corpus: Path, n: int) -> list[str]:
    out: dict[str, None] = {}
    for line in (corpus / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        for term in subject_terms(normalize(json.loads(line)["question"])):
            if 2 <= len(term) <= 12:
                out.setdefault(term)
        if len(out) >= n:
            break
    return list(out)[:n]


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=JSQUAD)
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--articles", type=int, default=20)
    p.add_argument("--full", type=int, default=50, help="topics judged without the first pass")
    args = p.parse_args()
    setup(args)
    searcher = jsquad_searcher()
    index, opts = searcher.index, searcher.options
    texts = topic_texts(args.corpus, args.topics)
    with one_thread():
        started = time.perf_counter()
        followed = topics(index, searcher.embedder, texts, opts)
        encode = time.perf_counter() - started
        articles = sorted({s["article"] for s in index.sections})[: args.articles]
        per, judged, matched = [], 0, 0
        for article in articles:
            started = time.perf_counter()
            ms_ = match_article(index, article, followed, opts)
            per.append(time.perf_counter() - started)
            judged += sum(m.judged for m in ms_)
            matched += sum(m.matched for m in ms_)
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
    figures = {
        "corpus": str(args.corpus),
        "passages": index.size,
        "topics": len(followed),
        "articles": len(articles),
        "encode_topics_once_ms": round(ms(encode), 1),
        "match_per_article_median_ms": round(ms(median(per)), 1),
        "match_per_article_max_ms": round(ms(max(per)), 1),
        "judged_per_article": round(judged / len(articles), 1),
        "matched_per_article": round(matched / len(articles), 1),
        "judge_every_topic_per_article_ms (baseline)": round(ms(median(full)), 1),
        "ask_median_ms (baseline)": round(ms(median(asks)), 1),
        "ask_max_ms (baseline)": round(ms(max(asks)), 1),
    }
    emit("follow: matching new articles against followed topics", figures, args.json)


if __name__ == "__main__":
    main()
