"""Small result types shared by the core, the CLI and the bot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from .errors import Skip

# The `extra` of a log record about a step that keeps a user waiting (preparing the model,
# building the index): the command line shows these as plain lines, whatever else it hides.
SLOW_STEP = {"slow_step": True}


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with what is needed to cite it."""

    article: str
    title: str
    section: str
    text: str
    sources: tuple[str, ...]
    published: str | None
    outlet: str | None
    score: float
    passage_id: int = -1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sources"] = list(self.sources)
        d.pop("passage_id")
        d["score"] = round(self.score, 4)
        return d


class Reason(StrEnum):
    """Why a question was not answered, as a code: the adapters word it (bot/ui/wording.py)."""

    ANSWERED = ""
    OTHER_NEWS = "other_news"  # its subject is not in the coverage
    OFF_TOPIC = "off_topic"  # nothing in the coverage is near it
    NO_SUBJECT = "no_subject"  # a follow-up with nothing to follow
    FILTERED = "filtered"  # nothing of the chosen outlet and dates answers it


@dataclass(frozen=True)
class Answer:
    """The reply to one question: a cited extractive answer, or an honest 'not covered'."""

    question: str
    text: str
    no_answer: bool
    hits: tuple[Hit, ...]
    # citations[i] is the 1-based hit number that the i-th answer sentence cites.
    citations: tuple[int, ...] = ()
    # The quoted sentences, verbatim, parallel to citations (text joins them with markers).
    sentences: tuple[str, ...] = ()
    # The question's language, "ja" or "en": replies and labels follow it.
    lang: str = "ja"
    # When refused for being about something else: the closest things the coverage does hold
    # (article titles, best first), and the question's terms it lacks (normalized).
    nearby: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    # The article the answer is about when its sentences leave it implicit (its title, a name):
    # shown before them as 【ドミニカ国】.
    subject: str = ""
    # Why it was not answered (a code, worded by the adapters); Reason.ANSWERED when answered.
    # A refusal's text is empty: its words are the adapters' (bot/ui/wording.py).
    reason: Reason = Reason.ANSWERED
    # A follow-up: the question of the turn it continued, and the questions it was asked about
    # (the previous turn's, then its own), which a further follow-up stands on.
    continued: str = ""
    asked_about: str = ""
    # A follow-up whose answer repeats the previous one: nothing else in the coverage answers it.
    repeated: bool = False

    @property
    def follow_up(self) -> bool:
        """Answered in the previous turn's context."""
        return bool(self.continued)

    @property
    def shown(self) -> str:
        """The answer's words as a reader sees them: the subject, then the quoted sentences."""
        head = f"【{self.subject}】" if self.subject else ""
        return head + " ".join(self.sentences)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "subject": self.subject,
            "no_answer": self.no_answer,
            "reason": str(self.reason),
            "lang": self.lang,
            "follow_up": self.follow_up,
            "continued": self.continued,
            "passages": [h.to_dict() for h in self.hits],
        }


@dataclass(frozen=True)
class Topic:
    """One article the coverage holds, for help texts, /topics and 'not covered' replies."""

    article: str
    title: str
    published: str | None
    outlet: str | None
    sections: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**asdict(self), "sections": list(self.sections)}


@dataclass(frozen=True)
class Skipped:
    """An article file left out of the index, and why: in English (CLI, logs), and as a code."""

    file: str
    reason: str
    code: Skip = Skip.UNPARSABLE
    field: str | None = None  # the front matter key, for MISSING_FIELD and BAD_FIELD


@dataclass
class BuildReport:
    """What a build or reindex changed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)  # (reasons: "; kept…" when kept)
    # Broken now, indexed before: their previous passages stay (they are among skipped too).
    kept: list[str] = field(default_factory=list)
    # With the database: what copying this machine's folder in changed (a SyncReport), or None.
    synced: object | None = None
    articles: int = 0
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    path: str = ""

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)
