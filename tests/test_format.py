"""The bot's formatting as plain functions: Answer/Hit/BuildReport → message parts within limits."""

from __future__ import annotations

import pytest

from bot.cooldown import UserCooldown
from bot.format import (
    NO_ANSWER,
    answer_reply,
    clip,
    echo,
    passages_reply,
    progress_text,
    report_summary,
    usage,
)
from index import Answer, BuildReport, Hit

from .discord_fixtures import MAINICHI, RUSSIA, TBS, assert_within_discord_limits, huge_answer
from .discord_fixtures import huge_hit as make_huge_hit


@pytest.fixture(scope="module")
def russia(searcher) -> Answer:
    return searcher.ask(RUSSIA)


def hit(text: str = "本文です。", sources=(MAINICHI,), **kw) -> Hit:
    fields = dict(
        article="a.md", title="見出し", section="節", outlet="毎日新聞", published="2025-03-19"
    )
    return Hit(text=text, sources=tuple(sources), score=1.0, **{**fields, **kw})


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("短い文。", 10, "短い文。"),
        ("一文目です。二文目です。三文目はとても長い文章です。", 16, "一文目です。二文目です。…"),
        ("停戦した。[1] 圧力はない。[2] 続く長い長い文章", 20, "停戦した。[1] 圧力はない。[2]…"),
        ("句点のないとても長い文章がずっと続いていく", 10, "句点のないとても長…"),
        ("Version 3.5 is out. More text follows here", 24, "Version 3.5 is out.…"),
    ],
)
def test_clip_ends_at_a_sentence_and_keeps_its_citation(text, limit, expected):
    assert clip(text, limit) == expected
    assert len(clip(text, limit)) <= limit


@pytest.mark.parametrize("limit", [0, 1, 2, 7, 100, 4096])
def test_clip_never_exceeds_the_limit(limit):
    assert len(clip("あ。" * 5000, limit)) <= limit


def test_answer_reply_cites_numbered_sources_with_links(russia):
    reply = answer_reply(russia)
    body, sources = reply.embeds
    assert "[1]" in body.description and "停戦" in body.description
    assert RUSSIA in reply.content
    lines = sources.description.splitlines()
    assert lines[0].startswith("**[1]** [トランプとプーチン")
    assert f"]({MAINICHI})" in lines[0]
    assert "毎日新聞" in lines[1] and "2025-03-19" in lines[1]
    assert f"]({TBS})" in sources.description
    # Every hit is listed, numbered in the order the answer cites them.
    assert [f"**[{n}]**" in sources.description for n in range(1, 6)] == [True] * 5


def test_no_answer_is_polite_and_shows_no_passages(searcher):
    reply = answer_reply(searcher.ask("火星の今日の天気は?"))
    assert [e.description for e in reply.embeds] == [NO_ANSWER]
    assert "http" not in str([e.to_dict() for e in reply.embeds])


def test_question_echo_never_mentions_anyone():
    user, role = "<@123456789012345678>", "<@&123456789012345679>"
    text = echo(f"@everyone @here {user} {role} **太字** ロシアの停戦条件は?")
    for raw in ("@everyone", "@here", user, role):
        assert raw not in text
    assert "\\*\\*太字\\*\\*" in text


@pytest.mark.parametrize("hits", [1, 5, 10, 12])
def test_huge_answer_respects_every_discord_limit(hits):
    reply = answer_reply(huge_answer(hits))
    assert_within_discord_limits(reply.content, reply.embeds)
    assert reply.embeds[0].description.endswith("…")
    assert reply.embeds[1].description.startswith("**[1]**")


@pytest.mark.parametrize("count", [1, 3, 10, 12])
@pytest.mark.parametrize("full", [True, False])
def test_huge_passages_respect_every_discord_limit(count, full):
    reply = passages_reply([make_huge_hit(i) for i in range(count)], 6, full=full, note="x" * 3000)
    assert_within_discord_limits(reply.content, reply.embeds)
    assert reply.embeds[0].title.startswith("[6] ")
    assert all(e.description.endswith("…") for e in reply.embeds)


def test_passages_show_full_text_or_an_excerpt():
    long = hit("とても長い本文の一文です。" * 100, sources=(MAINICHI, TBS))
    full, excerpt = passages_reply([long], 3, full=True), passages_reply([long], 3)
    assert full.embeds[0].description == long.text
    assert len(excerpt.embeds[0].description) <= 500 < len(long.text)
    assert full.embeds[0].url == MAINICHI
    assert full.embeds[0].title == "[3] 見出し — 節"
    assert "newsdig.tbs.co.jp" in full.embeds[0].footer.text


def test_links_survive_brackets_in_titles_and_parentheses_in_urls():
    odd = hit(title="[速報] 停戦", sources=("https://example.com/a_(b)",))
    line = answer_reply(Answer("q", "答え。[1]", False, (odd,), (1,))).embeds[1].description
    assert "[［速報］ 停戦 — 節](https://example.com/a_%28b%29)" in line


def test_unlinkable_sources_are_plain_text():
    reply = answer_reply(Answer("q", "答え。[1]", False, (hit(sources=("javascript:x",)),), (1,)))
    assert "](" not in reply.embeds[1].description


def test_report_summary_lists_changes_and_skips_in_japanese():
    report = BuildReport(
        added=["new_one.md"],
        removed=["old.md"],
        skipped=[("broken.md", "no front matter")],
        articles=3,
        passages=25,
        embedded=8,
        seconds=1.25,
    )
    text = report_summary(report)
    assert text.startswith("✅ 再構築が完了しました（1.2秒）")
    assert "記事 3件・パッセージ 25件（新たに埋め込み 8件）" in text
    assert "追加 1件: new\\_one.md" in text and "削除 1件: old.md" in text
    assert "スキップ 1件: broken.md（no front matter）" in text
    assert "変更" not in text


def test_report_summary_without_changes_and_with_many_files_stays_short():
    assert "ありませんでした" in report_summary(BuildReport(articles=1, passages=2))
    many = BuildReport(added=[f"{i}.md" for i in range(5000)], skipped=[("x.md", "y" * 900)] * 50)
    assert len(report_summary(many)) <= 2000
    assert "ほか4990件" in report_summary(many)


def test_progress_and_usage_texts():
    assert progress_text("embed", 12, 40) == "⏳ 再構築中… パッセージを埋め込み中 12/40"
    assert "</ask:1>" in usage("</ask:1>", "@newsbot") and "ヘルプ" not in usage()


def test_cooldown_allows_rate_per_window_then_counts_down():
    now = [100.0]
    cooldown = UserCooldown(2, 30, clock=lambda: now[0])
    assert (cooldown.hit(1), cooldown.hit(1)) == (0, 0)
    assert cooldown.hit(1) == 30
    assert cooldown.hit(2) == 0  # per user
    now[0] += 29.5
    assert cooldown.hit(1) == pytest.approx(0.5)
    now[0] += 0.5
    assert cooldown.hit(1) == 0
