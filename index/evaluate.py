"""Retrieval quality on a question set: recall@k and MRR@10 at section level."""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .build import build
from .corpus.text import squash
from .errors import ArticlesDirError
from .options import IndexOptions
from .retrieval.query import Query, check_question
from .searcher import Searcher

log = logging.getLogger(__name__)


def load_questions(path: Path, options: IndexOptions | None = None) -> list[dict]:
    """Read questions.jsonl: one {"question", "article", "section"} object a line.

    Raises ArticlesDirError naming the line of the first bad question, or when there are none.
    """
    if not path.is_file():
        raise ArticlesDirError(f"no questions file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ArticlesDirError(f"{path.name} is not UTF-8 text (byte {e.start})") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                q = json.loads(line)
                golds = q.get("answers") or []
                q = {"question": q["question"], "article": q["article"], "section": q["section"]}
                if not all(isinstance(v, str) for v in q.values()):
                    raise TypeError("question, article and section must be text")
                check_question(q["question"], options or IndexOptions())
                out.append(dict(q, answers=[str(a) for a in golds]))
            except (ValueError, KeyError, TypeError) as e:
                raise ArticlesDirError(
                    f"{path.name} line {n}: not a question object ({e})"
                ) from None
    if not out:
        raise ArticlesDirError(f"no questions in {path}")
    return out


def metrics(ranked: list[list[tuple[str, str]]], gold: list[tuple[str, str]]) -> dict:
    """recall@1/5/10 and MRR@10 from each question's ranked (article, section) list."""
    n = len(gold) or 1
    ranks = [
        next((i for i, r in enumerate(rs[:10]) if r == g), None) for rs, g in zip(ranked, gold)
    ]
    out = {f"recall@{k}": sum(r is not None and r < k for r in ranks) / n for k in (1, 5, 10)}
    out["mrr@10"] = sum(1 / (r + 1) for r in ranks if r is not None) / n
    out["questions"] = len(gold)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def answer_metrics(questions: list[dict], replies: list, top_texts: list[str]) -> dict:
    """Answered rate, median answer length, and how often a gold answer span is quoted."""
    n = max(len(questions), 1)
    answered = [a for a in replies if not a.no_answer]
    out = {
        "answered": round(len(answered) / n, 4),
        "median_answer_chars": statistics.median(len(a.shown) for a in answered) if answered else 0,
    }
    golds = [[squash(g) for g in q["answers"]] for q in questions]
    if any(golds):
        has = [
            not a.no_answer and any(g in squash(a.shown) for g in gs)
            for a, gs in zip(replies, golds)
        ]
        lead = [
            not a.no_answer and any(g in squash(lead_of(a)) for g in gs)
            for a, gs in zip(replies, golds)
        ]
        top = [any(g in squash(t) for g in gs) for t, gs in zip(top_texts, golds)]
        out["gold_in_answer"] = round(sum(has) / n, 4)
        out["gold_in_lead"] = round(sum(lead) / n, 4)
        out["gold_in_top1"] = round(sum(top) / n, 4)
    return out


def lead_of(a) -> str:
    """An answer's lead as a reader meets it: its subject and first sentence, to the first 。."""
    first = a.sentences[0] if a.sentences else ""
    head = f"【{a.subject}】" if a.subject else ""
    return head + first.split("。", 1)[0]


def evaluate(
    folder: Path, searcher: Searcher, k: int = 10, dense_weights: list[float] | None = None
) -> dict:
    """Index folder/articles into a temporary place and score folder/questions.jsonl.

    Args:
        folder: holds articles/ and questions.jsonl.
        searcher: supplies the model and options (its own index is left alone).
        k: passages retrieved per question (at least 10 for the metrics).
        dense_weights: fusion weights to score (default: the settings' one).

    Returns:
        {"dense_weight=W": metrics, ...} plus build figures.
    """
    questions = load_questions(folder / "questions.jsonl")
    gold = [(q["article"], q["section"]) for q in questions]
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as tmp:
        report = build(searcher.options, searcher.embedder, folder / "articles", Path(tmp))
        if not report.articles:
            raise ArticlesDirError(f"no usable articles in {folder / 'articles'}")
        queries = [Query.of(q["question"], searcher.options) for q in questions]
        started = time.perf_counter()
        qvecs = searcher.embedder.encode_queries([q.normal for q in queries])
        encode_ms = (time.perf_counter() - started) * 1000 / max(len(questions), 1)
        for w in dense_weights or [searcher.options.dense_weight]:
            options = replace(searcher.options, dense_weight=w)
            # Asked as the bot asks (each afresh): the same steps from query to answer.
            scratch = Searcher(options, searcher.embedder, root=Path(tmp))
            scratch.load()
            started = time.perf_counter()
            framed = [scratch.query(q.text) for q in queries]
            index, rankings = scratch.rank(
                framed, vectors=qvecs[[not q.lacks_subject for q in framed]]
            )
            ranked, replies, tops = [], [], []
            for ranking in rankings:
                ids = ranking.ranked.ids if ranking.ranked is not None else []
                ranked.append([index.section_of(int(i)) for i in ids[: max(k, 10)]])
                replies.append(scratch.respond(index, ranking, options.top_k))
                tops.append(index.text(int(ids[0])) if len(ids) else "")
            ms = (time.perf_counter() - started) * 1000 / max(len(questions), 1)
            out[f"dense_weight={w:g}"] = dict(
                metrics(ranked, gold),
                **answer_metrics(questions, replies, tops),
                encode_ms=round(encode_ms, 1),
                rank_answer_ms=round(ms, 2),
            )
    out["build"] = {
        "seconds": round(report.seconds, 1),
        "passages": report.passages,
        "passages_per_second": round(report.embedded / max(report.seconds, 1e-9), 1),
    }
    return out


def __getattr__(name: str):
    # Follow-ups are measured by index/conversation/evaluate.py; offered here, with the rest
    # of the evaluation, to the command line (imported on use: it imports this module).
    if name in ("evaluate_dialogues", "load_dialogues"):
        from .conversation import evaluate as dialogues

        return getattr(dialogues, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
