"""The old feedback.jsonl (votes before use data had a database) read as rows to import."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from .store import QuestionRecord, VoteRecord, keyed_hash


def feedback_rows(path: Path, key: bytes) -> tuple[list[QuestionRecord], list[VoteRecord], int]:
    """feedback.jsonl lines → one question per (question, answer) and its users' last votes."""
    questions: dict[tuple[str, str], QuestionRecord] = {}
    votes: dict[tuple[str, str], VoteRecord] = {}
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                when = dt.datetime.fromisoformat(r["time"])
                when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
                vote = {"up": 1, "down": -1}[r["vote"]]
                text, answer = str(r["question"]), str(r.get("answer", ""))
                user = keyed_hash(key, "user", r["user_id"])
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            digest = hashlib.sha256(f"{text}\0{answer}".encode()).hexdigest()[:24]
            q = questions.setdefault(
                (text, answer),
                QuestionRecord(f"imported-{digest}", when, text, "imported", True, answer=answer),
            )
            if when < q.asked_at:
                questions[(text, answer)] = QuestionRecord(
                    q.answer_id, when, text, "imported", True, answer=answer
                )
            votes[(q.answer_id, user)] = VoteRecord(q.answer_id, user, vote, when)
    return list(questions.values()), list(votes.values()), bad
