"""Narrowing a ranking: by outlet and date, toward one conversation's articles, or the newest."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from ..errors import QuestionError
from ..ingest.outlets import outlet_of
from ..types import Hit
from . import outlet_names
from .outlet_names import fold
from .ranker import Index, Ranked

# The newest of the ranked articles gains this much fused score, the oldest none (linear in
# between): enough to lift a newer article over an older one on the same subject (their fused
# scores differ by less than 0.1 in tests/test_conversation.py), not a weaker match over a strong.
LATEST_BONUS = 0.1
# A follow-up's passages from the articles the previous answer cited gain this much: the same
# story wins over a stranger whose words happen to match (梅雨の期間 for 期間は?).
PREFER_BONUS = 0.25
_SPLIT = re.compile(r"[、,，/・]\s*")


@dataclass(frozen=True)
class Filters:
    """Only articles of this outlet, published in [since, until] (inclusive); None: any."""

    outlet: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, outlet: str | None, since: str | None, until: str | None) -> Filters:
        """From the command's strings; QuestionError says what is wrong with a date."""
        first, last = _date(since, "since"), _date(until, "until")
        if first and last and first > last:
            raise QuestionError(f"期間の指定が逆です（since {first} が until {last} より後）。")
        return cls((outlet or "").strip() or None, first, last)

    def __bool__(self) -> bool:
        return bool(self.outlet or self.since or self.until)

    def resolve(self, outlets: Sequence[str]) -> Filters:
        """The outlet as these (the index's) names it, however it was typed (TBS, 毎日, ｔｂｓ,
        mainichi, mainichi.jp); OutletError offers the choices when it means several or none."""
        if not self.outlet or self.outlet in outlets:
            return self
        return replace(self, outlet=outlet_names.resolve(self.outlet, outlets))

    @staticmethod
    def choices(typed: str, outlets: Sequence[str]) -> list[str]:
        """The outlets a partly typed name may mean, in the given order (for a pick list)."""
        return outlet_names.matches(typed, outlets)

    def admits(self, section: dict) -> bool:
        """Whether a section passes: of the outlet (its own links' when its article has several
        outlets), and dated within the range (a dated filter skips undated articles)."""
        if self.outlet and fold(self.outlet) not in {fold(o) for o in section_outlets(section)}:
            return False
        if self.since or self.until:
            published = _parsed(section.get("published"))
            if published is None:
                return False
            if (self.since and published < self.since) or (self.until and published > self.until):
                return False
        return True


def outlets_of(section: dict) -> list[str]:
    """The outlet names a section's article gives (「毎日新聞、TBS NEWS DIG」 is two)."""
    return [o for o in _SPLIT.split(section.get("outlet") or "") if o.strip()]


def section_outlets(section: dict) -> list[str]:
    """The outlets a section speaks for: of an article built from several outlets, those its own
    links belong to; else (one outlet, or links to other sites) the article's."""
    named = outlets_of(section)
    if len(named) < 2:
        return named
    linked = {fold(outlet_of(url, section.get("outlet"))) for url in section.get("sources") or ()}
    return [o for o in named if fold(o) in linked] or named


def trim_links(hit: Hit, filters: Filters | None) -> Hit:
    """The hit citing only its links of the filter's outlet (all of them when none is)."""
    if not filters or not filters.outlet or len(hit.sources) < 2:
        return hit
    wanted = fold(filters.outlet)
    kept = tuple(u for u in hit.sources if fold(outlet_of(u, hit.outlet)) == wanted)
    return replace(hit, sources=kept) if kept else hit


def narrow(index: Index, r: Ranked, filters: Filters) -> Ranked:
    """The ranking without the passages whose article the filters exclude."""
    keep = [
        n for n, i in enumerate(r.ids) if filters.admits(index.section(index.passage_section[i]))
    ]
    return _take(r, np.asarray(keep, dtype=np.int64))


def prefer(index: Index, r: Ranked, articles: Sequence[str], bonus: float = PREFER_BONUS) -> Ranked:
    """Lift the passages of these articles (a follow-up's previous answer) and re-sort."""
    if not len(r.ids) or not articles:
        return r
    wanted = set(articles)
    lift = np.array(
        [bonus if index.section_of(int(i))[0] in wanted else 0.0 for i in r.ids], dtype=np.float32
    )
    return _resort(r, r.fused + lift)


def newest_first(index: Index, r: Ranked, bonus: float = LATEST_BONUS) -> Ranked:
    """Lift the ranked passages by their article's date: the newest by bonus, the oldest by 0."""
    if not len(r.ids):
        return r
    dates = [index.section(index.passage_section[i]).get("published") or "" for i in r.ids]
    known = sorted({d for d in dates if d})
    if len(known) < 2:
        return r
    place = {d: n / (len(known) - 1) for n, d in enumerate(known)}
    lift = np.array([bonus * place.get(d, 0.0) for d in dates], dtype=np.float32)
    return _resort(r, r.fused + lift)


def _resort(r: Ranked, fused: np.ndarray) -> Ranked:
    order = np.argsort(-fused, kind="stable")
    return Ranked(r.ids[order], fused[order], r.dense[order])


def _take(r: Ranked, keep: np.ndarray) -> Ranked:
    return Ranked(r.ids[keep], r.fused[keep], r.dense[keep])


def _date(value: str | None, name: str) -> date | None:
    if not value or not value.strip():
        return None
    parsed = _parsed(value.strip())
    if parsed is None:
        raise QuestionError(f"{name} は YYYY-MM-DD の形で指定してください（{value.strip()!r}）。")
    return parsed


def _parsed(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return None
