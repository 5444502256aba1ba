"""Dialogues scored: follow-ups that carry the key fact, turns that must not inherit, and bare
follow-ups that must ask for the subject."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..build import build
from ..corpus.loader import article_files
from ..corpus.text import squash
from ..errors import ArticlesDirError
from ..searcher import Searcher
from ..types import Reason
from .memory import Conversations

log = logging.getLogger(__name__)
EXPECT = ("answer", "refuse", "ask_subject")


def load_dialogues(path: Path) -> list[dict]:
    """Read dialogues.jsonl (one {"id", "turns": [{"q", "expect", "follow_up", "key"}]} a line)."""
    if not path.is_file():
        raise ArticlesDirError(f"no dialogues file at {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            turns = d["turns"]
            if not turns or any(t["expect"] not in EXPECT or not t["q"] for t in turns):
                raise ValueError(f"each turn needs 'q' and 'expect' in {', '.join(EXPECT)}")
        except (ValueError, KeyError, TypeError) as e:
            raise ArticlesDirError(f"{path.name} line {n}: {e}") from None
        out.append(d)
    if not out:
        raise ArticlesDirError(f"{path.name} holds no dialogues")
    return out


def evaluate_dialogues(path: Path, searcher: Searcher, folders: Sequence[Path]) -> dict:
    """Index the folders' articles together in a temporary place and ask every dialogue there,
    each in a conversation of its own. Returns the figures and the turns that went wrong."""
    dialogues = load_dialogues(path)
    with tempfile.TemporaryDirectory(prefix="newsbot-dialogues-") as tmp:
        articles = Path(tmp) / "articles"
        count = _copy_articles(folders, articles)
        build(searcher.options, searcher.embedder, articles, Path(tmp) / "index")
        scratch = Searcher(searcher.options, searcher.embedder, root=Path(tmp) / "index")
        scratch.load()
        results = [_asked(scratch, d) for d in dialogues]
        alone = [[_ask(scratch, t["q"]) for t in d["turns"]] for d in dialogues]
    out = score(dialogues, results, alone)
    out["articles"] = count
    return out


def _asked(searcher: Searcher, dialogue: dict) -> list:
    """Every turn's answer, each asked with the conversation's last turn as its context (None
    for a turn that crashed: the conversation goes on, as in `chat`)."""
    conversations = Conversations()
    answers = []
    for turn in dialogue["turns"]:
        answer = _ask(searcher, turn["q"], conversations.last("u"))
        if answer is not None:
            conversations.add("u", turn["q"], answer)
        answers.append(answer)
    return answers


def _ask(searcher: Searcher, question: str, context=None):
    try:
        return searcher.ask(question, context=context)
    except Exception:  # counted as a crash, never the end of the run
        log.exception("turn crashed: %s", question)
        return None


def score(dialogues: list[dict], results: list[list], alone: list[list] | None = None) -> dict:
    """follow_up_key_rate: follow-ups that quote a key fact; wrong_inheritance: later turns
    that must not inherit but did (or answered what must be refused); ask_subject_rate: bare
    follow-ups without context that were asked for their subject. With alone (each turn asked
    without the conversation): the same follow-ups right when asked alone; and refused
    follow-ups, follow-ups citing another story than theirs, turns that crashed."""
    follow, follow_ok, must_not, wrong, bare, bare_ok, fresh, fresh_ok = ([] for _ in range(8))
    refused, elsewhere, crashed, alone_ok = [], [], [], []
    for i, (d, answers) in enumerate(zip(dialogues, results)):
        for n, (turn, a) in enumerate(zip(d["turns"], answers)):
            if a is None:
                crashed.append({"id": d["id"], "turn": n + 1, "q": turn["q"], "got": "(crash)"})
                continue
            got = a.shown or f"({a.reason}) {' '.join(a.missing)}"
            where = {"id": d["id"], "turn": n + 1, "q": turn["q"], "got": got}
            keyed = _has_key(turn, a)
            if turn["expect"] == "ask_subject":
                bare.append(where)
                (bare_ok if a.reason == Reason.NO_SUBJECT else []).append(where)
            elif n and turn.get("follow_up"):
                follow.append(where)
                (follow_ok if keyed else []).append(where)
                (refused if a.no_answer else []).append(where)
                (elsewhere if _elsewhere(turn, a) else []).append(where)
                solo = alone[i][n] if alone else None
                (alone_ok if solo is not None and _has_key(turn, solo) else []).append(where)
            elif n:
                must_not.append(where)
                inherited = a.follow_up or (turn["expect"] == "refuse" and not a.no_answer)
                (wrong if inherited else []).append(where)
                if turn["expect"] == "answer":
                    fresh.append(where)
                    (fresh_ok if keyed else []).append(where)
    out = {
        "dialogues": len(dialogues),
        "follow_ups": len(follow),
        "follow_up_key_rate": _rate(follow_ok, follow),
        "must_not_inherit": len(must_not),
        "wrong_inheritance": len(wrong),
        "fresh_answered_with_key": f"{len(fresh_ok)}/{len(fresh)}",
        "bare_follow_ups": len(bare),
        "ask_subject_rate": _rate(bare_ok, bare),
        "crashed_turns": len(crashed),
        "misses": [w for w in follow if w not in follow_ok]
        + wrong
        + [w for w in bare if w not in bare_ok]
        + [w for w in fresh if w not in fresh_ok]
        + crashed,
    }
    if alone is not None:
        out["follow_ups_right_alone"] = f"{len(alone_ok)}/{len(follow)}"
        out["follow_ups_refused"] = f"{len(refused)}/{len(follow)}"
        out["follow_ups_citing_another_story"] = f"{len(elsewhere)}/{len(follow)}"
    return out


def _elsewhere(turn: dict, answer) -> bool:
    """Whether an answer cites none of the turn's own story (when the set names it)."""
    story = turn.get("article")
    if not story or answer.no_answer or not answer.citations:
        return False
    name = Path(story).name
    cited = {answer.hits[n - 1].article for n in answer.citations if 0 < n <= len(answer.hits)}
    return not any(str(a).endswith(name) for a in cited)


def _has_key(turn: dict, answer) -> bool:
    if turn["expect"] == "refuse":
        return answer.no_answer
    if answer.no_answer:
        return False
    keys = [squash(k) for k in turn.get("key", [])]
    return not keys or any(k in squash(answer.shown) for k in keys)


def _rate(good: list, all_: list) -> float:
    return round(len(good) / len(all_), 4) if all_ else 0.0


def _copy_articles(folders: Sequence[Path], target: Path) -> int:
    """Copy every article file of the folders into target (names made unique by folder)."""
    target.mkdir(parents=True)
    count = 0
    for n, folder in enumerate(folders):
        if not Path(folder).is_dir():
            raise ArticlesDirError(f"articles folder not found: {folder}")
        for path in article_files(Path(folder)):
            name = f"{n:02d}-{path.relative_to(folder).as_posix().replace('/', '-')}"
            shutil.copyfile(path, target / name)
            count += 1
    return count
