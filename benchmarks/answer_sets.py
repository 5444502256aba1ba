"""The README's single-question set counts: other news and off-topic refused, loose on-topic
and paraphrases answered, key facts quoted (own sets in tests/data/)."""

# .venv/bin/python benchmarks/answer_sets.py [--json]
#
# Over the shipped articles (as `newsbot ask` answers) and over the shipped plus the test
# articles (as the test suite's `searcher` fixture); each question asked afresh.

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

from _common import MODEL_CACHE, ROOT, emit, parser, setup

from index import IndexOptions, Searcher
from index.encoders.embedder import Embedder

DATA = ROOT / "tests" / "data"


def read(name: str) -> list[dict]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def searcher_over(folders: list[Path], embedder: Embedder, tmp: Path) -> Searcher:
    articles = tmp / "articles"
    articles.mkdir(parents=True)
    for folder in folders:
        for path in folder.glob("*.md"):
            shutil.copy(path, articles / path.name)
    options = IndexOptions(
        articles_dir=articles, data_dir=tmp / "data", model_cache_dir=MODEL_CACHE
    )
    return Searcher.open(options, embedder=embedder)


def counts(shipped: Searcher, corpus: Searcher) -> dict:
    out = {}
    for name, s, want in (
        ("othernews.jsonl", shipped, "refused"),
        ("ontopic.jsonl", shipped, "answered"),
        ("offtopic.jsonl", corpus, "refused"),
        ("paraphrase.jsonl", corpus, "answered"),
    ):
        qs = read(name)
        answers = s.batch_ask([q["question"] for q in qs])
        ok = [a.no_answer == (want == "refused") for a in answers]
        out[name] = f"{sum(ok)}/{len(qs)} {want}"
    facts = read("keyfacts.jsonl")
    answers = shipped.batch_ask([q["question"] for q in facts])
    ok = [
        not a.no_answer and any(squash(k) in squash(a.shown) for k in q["facts"])
        for q, a in zip(facts, answers)
    ]
    out["keyfacts.jsonl"] = f"{sum(ok)}/{len(facts)} with the key fact"
    return out


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    embedder = Embedder(IndexOptions().model, MODEL_CACHE)
    with tempfile.TemporaryDirectory() as tmp:
        shipped = searcher_over([ROOT / "articles"], embedder, Path(tmp) / "shipped")
        corpus = searcher_over(
            [ROOT / "articles", DATA / "articles"], embedder, Path(tmp) / "corpus"
        )
        emit("answer sets", counts(shipped, corpus), args.json)


if __name__ == "__main__":
    main()
