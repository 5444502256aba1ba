"""Helpers for the Discord tests: oversized answers, a limit checker, and a failing build."""

from __future__ import annotations

import shutil
from pathlib import Path

import discord

from index import Answer, Hit
from index.types import BuildReport

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = Path(__file__).resolve().parent / "data" / "articles"
SEED = ROOT / "articles" / "2025-03-19-us-russia-ceasefire.md"
MAINICHI = "https://mainichi.jp/articles/20250319/k00/00m/030/319000c"
TBS = "https://newsdig.tbs.co.jp/articles/-/1729431"
FNN = "https://www.fnn.jp/articles/-/844910"
RUSSIA = "ロシアの停戦条件は?"


def huge_hit(n: int = 1) -> Hit:
    """A passage that breaks every limit: long title, section, text, outlet and many sources."""
    sentence = f"これは{n}番目のとても長い記事の文章で、制限を試すために何度も繰り返されます。"
    return Hit(
        article=f"huge-{n}.md",
        title="長い見出し[括弧]" * 60,
        section="長い小見出し(丸括弧)" * 60,
        text=sentence * 400,  # about 14,000 characters
        sources=tuple(f"https://example.com/a_(b)/{n}/{i}?q=" + "x" * 300 for i in range(40)),
        published="2025-03-19",
        outlet="とても長い媒体名@everyone" * 100,
        score=1.0,
        passage_id=n,
    )


def huge_answer(hits: int = 12) -> Answer:
    many = tuple(huge_hit(i) for i in range(1, hits + 1))
    text = " ".join(f"とても長い回答の文です。[{i % 3 + 1}]" for i in range(1500))
    return Answer("@everyone " + "長い質問" * 700, text, False, many, (1, 2, 3))


def assert_within_discord_limits(content: str | None, embeds: list[discord.Embed]) -> None:
    """Every documented Discord limit on one message's content and embeds."""
    assert len(content or "") <= 2000
    assert len(embeds) <= 10
    assert sum(len(e) for e in embeds) <= 6000
    for e in embeds:
        assert len(e.title or "") <= 256
        assert len(e.description or "") <= 4096
        assert len(e.fields) <= 25
        assert all(len(f.name) <= 256 and len(f.value) <= 1024 for f in e.fields)
        assert len(e.footer.text or "") <= 2048
        assert len(e.author.name or "") <= 256


def copy_articles(folder: Path, *names: str) -> Path:
    """An articles folder holding the seed article and the named test articles."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED, folder / SEED.name)
    for name in names:
        shutil.copy(ARTICLES / name, folder / name)
    return folder


class BrokenBuild:
    """A Searcher whose reindex fails unexpectedly; everything else is the real searcher."""

    def __init__(self, searcher, error: Exception):
        self._searcher = searcher
        self._error = error

    def reindex(self, rebuild: bool = False, progress=None) -> BuildReport:
        raise self._error

    def __getattr__(self, name):
        return getattr(self._searcher, name)


class QuickBuild:
    """A Searcher whose reindex reports progress once and succeeds at once, counting builds."""

    def __init__(self, searcher):
        self._searcher = searcher
        self.builds = 0

    def reindex(self, rebuild: bool = False, progress=None) -> BuildReport:
        self.builds += 1
        if progress:
            progress("embed", 1, 2)
        return BuildReport(added=["new.md"], articles=3, passages=30, embedded=5, seconds=0.1)

    def __getattr__(self, name):
        return getattr(self._searcher, name)


def lose_response(monkeypatch, method: str, template: str, times: int = 1) -> None:
    """Discord applies the request, but the bot gets a 500: a response lost on its way back.

    simcord's `inject_error` fails a request before Discord acts on it; a duplicate reply comes
    from the other case. This wraps the handler of one route in simcord's route table (3.2.1),
    e.g. ("POST", "/webhooks/{webhook_id}/{token}") for interaction followups.
    """
    from simcord.backend.errors import BackendError
    from simcord.http import router

    segments = template.strip("/").split("/")
    routes = list(router._ROUTES[method])
    (i,) = [n for n, (t, _) in enumerate(routes) if t == segments]
    real = routes[i][1]
    left = [times]

    def lossy(ctx):
        result = real(ctx)
        if left[0] > 0:
            left[0] -= 1
            raise BackendError(500, 0, "response lost after the request was applied (test)")
        return result

    routes[i] = (segments, lossy)
    monkeypatch.setitem(router._ROUTES, method, routes)
