"""The bot's formatting as plain functions: Answer/Hit/BuildReport → message parts within limits."""

from __future__ import annotations

import pytest

from bot.cooldown import UserCooldown
from bot.ui.build_progress import SKIP_REASONS, progress_text, reason_text, report_summary
from bot.ui.format import (
    answer_reply,
    cited_sources,
    clip,
    date_text,
    echo,
    evidence_reply,
    plain,
    refusal_reply,
    results_reply,
    usage,
)
from bot.ui.i18n import text
from bot.ui.wording import refusal_headline
from index import Answer, BuildReport, Hit, Skipped, Topic
from index.errors import Skip
from index.ingest.outlets import outlet_of

from .discord_fixtures import FNN, MAINICHI, RUSSIA, TBS, assert_within_discord_limits, huge_answer
from .discord_fixtures import huge_hit as make_huge_hit

FURNISHED = (
    "米ロ首脳が電話で会談した。\n公開日:2025/03/19\n✅ 攻撃を30日間停止することで合意した。\n"
    "💡 ロシアは全面停戦を拒んだ。\nさらに読む ⇒ニュースサイト出典/画像元: https://mainichi.jp/x\n"
    "出典/画像元: https://www.fnn.jp/y\n交渉は続く。"
)


@pytest.fixture(scope="module")
def russia(searcher) -> Answer:
    return searcher.ask(RUSSIA)


def hit(text: str = "本文です。", sources=(MAINICHI,), **kw) -> Hit:
    fields = dict(
        article="a.md", title="見出し", section="節", outlet="毎日新聞", published="2025-03-19"
    )
    return Hit(text=text, sources=tuple(sources), score=1.0, **{**fields, **kw})


def answer(sentences, citations, hits, lang="ja") -> Answer:
    body = " ".join(f"{s}[{n}]" for s, n in zip(sentences, citations))
    return Answer("q", body, False, tuple(hits), tuple(citations), tuple(sentences), lang)


def joined(text: str) -> str:
    return text.replace("\u2060", "")


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


def test_answer_is_one_embed_with_clickable_citations_and_only_cited_sources():
    hits = [
        hit(section="譲歩", sources=(MAINICHI,)),
        hit(section="現実", sources=(TBS,)),
        hit(article="b.md", title="将棋", section="挑戦者", sources=("https://example.com/s",)),
        hit(section="展望", sources=(FNN,)),
    ]
    reply = answer_reply(answer(["一つ目。", "✅ 二つ目。", "三つ目。"], [1, 1, 4], hits))
    (embed,) = reply.embeds
    # Repeated markers merged; each one a link to the page it cites.
    assert embed.description == f"一つ目。二つ目。[[1]]({MAINICHI})三つ目。[[2]]({FNN})"
    field = embed.fields[0]
    assert field.name == "出典"
    assert joined(field.value).splitlines() == [
        "見出し",
        f"**[1]** [毎日新聞]({MAINICHI}) · 譲歩 · 2025年3月19日",
        f"**[2]** [FNNプライムオンライン]({FNN}) · 展望 · 2025年3月19日",
    ]
    assert "将棋" not in field.value and TBS not in field.value  # uncited hits are not sources
    assert reply.content == "**質問:** q" and not embed.footer.text


def test_passages_citing_the_same_article_and_link_are_one_source():
    hits = [hit(section="前半"), hit(section="後半"), hit(article="b.md", title="別の記事")]
    sources, numbers = cited_sources(answer(["A。", "B。", "C。"], [1, 3, 2], hits))
    assert [s.number for s in sources] == [1, 2] and numbers == {1: 1, 3: 2, 2: 1}
    line = answer_reply(answer(["A。", "B。"], [1, 2], hits)).embeds[0].fields[0].value
    assert line.count("**[") == 1 and "前半・後半" in line


@pytest.mark.parametrize(
    ("url", "named", "expected"),
    [
        (TBS, "毎日新聞、TBS NEWS DIG、FNNプライムオンライン", "TBS NEWS DIG"),
        (FNN, None, "FNNプライムオンライン"),
        ("https://fnn.jp/articles/1", None, "FNNプライムオンライン"),
        ("https://www3.nhk.or.jp/news/html/1.html", None, "NHK"),
        ("https://digital.asahi.com/articles/1", "", "朝日新聞"),
        ("https://example.com/news/x", "テスト新聞", "テスト新聞"),  # the article's one outlet
        ("https://www.example.org/x", "A新聞、B新聞", "example.org"),  # several: the host
        ("https://notmainichi.jp/x", None, "notmainichi.jp"),
    ],
)
def test_the_outlet_of_a_link(url, named, expected):
    assert outlet_of(url, named) == expected


def test_dates_are_written_out_and_never_break():
    assert joined(date_text("2025-03-19", "ja")) == "2025年3月19日"
    assert date_text("2025-03-19", "en") == "Mar\u00a019,\u00a02025"
    assert "\u2060" in date_text("2025-03-19", "ja")  # word joiners: one unbreakable date
    assert date_text(None, "ja") == "" and date_text("2025年春", "ja") == "2025年春"


def test_flagship_answer_fits_one_phone_screen(russia):
    (embed,) = answer_reply(russia).embeds
    assert len(embed.description) + len(embed.fields[0].value) <= 1200
    assert embed.description.count(f"]({MAINICHI})") == 1


def test_english_answer_has_english_labels_and_a_note(searcher):
    reply = answer_reply(searcher.ask("What did Putin concede?"))
    (embed,) = reply.embeds
    assert reply.content.startswith("**Q:** ")
    assert embed.fields[0].name == "Sources" and embed.footer.text == text("en", "japanese_note")
    assert "Mar\u00a019,\u00a02025" in embed.fields[0].value


def test_plain_drops_page_furniture_and_keeps_the_text():
    assert plain(FURNISHED) == (
        "米ロ首脳が電話で会談した。\n攻撃を30日間停止することで合意した。\n"
        "ロシアは全面停戦を拒んだ。\n交渉は続く。"
    )


def test_evidence_is_the_cited_passages_clean_with_the_quotes_in_bold():
    hits = [hit(FURNISHED, section="譲歩"), hit("関係ない。", section="他")]
    reply = evidence_reply(answer(["✅ 攻撃を30日間停止することで合意した。"], [1], hits))
    (embed,) = reply.embeds
    assert (embed.author.name, embed.title, embed.url) == ("見出し", "[1] 譲歩", MAINICHI)
    assert "**攻撃を30日間停止することで合意した。**" in embed.description
    for mark in ("✅", "💡", "公開日", "さらに読む", "画像元", "https://"):
        assert mark not in embed.description
    assert joined(embed.footer.text) == "毎日新聞 · 2025年3月19日"


def test_results_say_when_the_related_ones_end():
    page = results_reply([hit(FURNISHED)], "ja", end=True)
    assert page.content == "**他の結果** （関連する記事はこれで全部です）"
    assert "✅" not in page.embeds[0].description
    assert results_reply([], "en", end=True).content == "No more related articles."
    assert results_reply([hit()], "ja", end=False).content == "**他の結果**"
    assert results_reply([], "ja", end=True).content == "関連する記事はこれ以上ありません。"


def test_refusal_of_other_news_names_what_the_coverage_lacks():
    refused = Answer(
        "ガザの停戦交渉は?", "x", True, (), lang="ja", nearby=("米ロ",), missing=("ガザ",)
    )
    description = refusal_reply(refused, []).embeds[0].description
    assert description.startswith("「ガザ」についての記事はありません。") and "米ロ" in description


def test_refusal_shows_nearby_topics_newest_first_and_examples():
    topics = [Topic("a.md", "新しい記事", "2025-04-15", None), Topic("b.md", "古い記事", None, "")]

    refused = Answer("火星は?", "x", True, (), lang="ja", nearby=("近い記事",))
    (embed,) = refusal_reply(refused, topics).embeds
    d = joined(embed.description)
    assert d.startswith(refusal_headline("off_topic", (), "ja"))
    assert d.index("近い記事") < d.index("新しい記事（2025年4月15日）") < d.index("・古い記事")
    assert "ロシアの停戦条件は?" in d and "http" not in d
    english = refusal_reply(Answer("Mars?", "x", True, (), lang="en"), [], echo_question=False)
    assert english.content is None and "Try asking" in english.embeds[0].description


def test_question_echo_never_mentions_anyone():
    user, role = "<@123456789012345678>", "<@&123456789012345679>"
    text_ = echo(f"@everyone @here {user} {role} **太字** ロシアの停戦条件は?")
    for raw in ("@everyone", "@here", user, role):
        assert raw not in text_
    assert "\\*\\*太字\\*\\*" in text_


@pytest.mark.parametrize("hits", [1, 5, 10, 12])
def test_huge_answer_respects_every_discord_limit(hits):
    reply = answer_reply(huge_answer(hits))
    assert_within_discord_limits(reply.content, reply.embeds)
    assert reply.embeds[0].description.endswith("…")
    assert reply.embeds[0].fields[0].value.count("**[") >= 1


@pytest.mark.parametrize("count", [1, 3, 10, 12])
def test_huge_passages_respect_every_discord_limit(count):
    reply = results_reply([make_huge_hit(i) for i in range(count)], "ja", end=True)
    assert_within_discord_limits(reply.content, reply.embeds)
    assert all(e.description.endswith("…") for e in reply.embeds)
    evidence = evidence_reply(huge_answer(count))
    assert_within_discord_limits(evidence.content, evidence.embeds)


def test_links_survive_brackets_in_outlets_and_parentheses_in_urls():
    odd = hit(outlet="[速報]社", sources=("https://example.com/a_(b)",))
    line = answer_reply(Answer("q", "答え。[1]", False, (odd,), (1,))).embeds[0].fields[0].value
    assert "[［速報］社](https://example.com/a_%28b%29)" in line


def test_unlinkable_sources_are_plain_text():
    reply = answer_reply(Answer("q", "答え。[1]", False, (hit(sources=("javascript:x",)),), (1,)))
    assert "](" not in reply.embeds[0].description + reply.embeds[0].fields[0].value


def test_report_summary_is_plain_japanese_with_worded_reasons():
    report = BuildReport(
        added=["new_one.md"],
        removed=["old.md"],
        skipped=[
            Skipped("broken.md", "no front matter (...)", Skip.NO_FRONT_MATTER),
            Skipped("odd.md", "cannot be parsed (RecursionError)", Skip.UNPARSABLE),
        ],
        articles=3,
        passages=25,
        embedded=8,
        seconds=1.25,
    )
    summary = report_summary(report)
    assert summary.startswith("✅ 索引を作り直しました（1.2秒）")
    assert "記事 3件・段落 25件（新しく読み込んだ段落 8件）" in summary
    assert "追加 1件: new\\_one.md" in summary and "削除 1件: old.md" in summary
    assert "・broken.md: 先頭に「---」で囲んだ記事情報" in summary
    assert "・odd.md: 読み込めません" in summary
    for jargon in ("変更", "パッセージ", "埋め込み", "front matter", "Recursion"):
        assert jargon not in summary


@pytest.mark.parametrize("lang", sorted(SKIP_REASONS))
def test_every_skip_code_has_its_words_in_every_language(lang):
    assert set(SKIP_REASONS[lang]) == set(Skip)


BROKEN_FILES = {
    "nofm.md": (b"just text\n", Skip.NO_FRONT_MATTER, None),
    "yaml.md": (b"---\ntitle: [unclosed\n---\nbody\n", Skip.FRONT_MATTER_SYNTAX, None),
    "notitle.md": (b"---\nurl: https://e.example/a\n---\nbody\n", Skip.MISSING_FIELD, "title"),
    "date.md": (b"---\ntitle: t\npublished: someday\n---\nbody\n", Skip.BAD_FIELD, "published"),
    "empty.md": (b"---\ntitle: t\n---\n\n", Skip.NO_BODY, None),
    "utf16.md": ("---\ntitle: t\n---\nx\n".encode("utf-16"), Skip.NOT_UTF8, None),
    "latin1.md": (b"---\ntitle: caf\xe9\n---\nbody\n", Skip.NOT_UTF8, None),
    "bin.md": (b"---\x00\x01", Skip.BINARY, None),
    "big.md": (b"---\ntitle: t\n---\n" + b"x" * 2000, Skip.TOO_LARGE, None),
    "notes.txt": (b"a note\n", Skip.PLAIN_TEXT, None),
}


def test_every_reason_the_loader_gives_is_worded_from_its_code(tmp_path):
    """Real files, the real loader: each skip has its code and its own words (none generic)."""
    from index.corpus.loader import load_articles

    for name, (raw, _, _) in BROKEN_FILES.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    (tmp_path / "outside.md").symlink_to("/etc/hostname")
    _, skipped = load_articles(tmp_path, max_bytes=1000)
    got = {s.file: (s.code, s.field) for s in skipped}
    want = {name: (code, field) for name, (_, code, field) in BROKEN_FILES.items()}
    want |= {"dangling.md": (Skip.BROKEN_LINK, None), "outside.md": (Skip.LINK_OUTSIDE, None)}
    assert got == want
    for s in skipped:
        for lang in SKIP_REASONS:
            assert reason_text(s, lang) != SKIP_REASONS[lang][Skip.UNPARSABLE], s
    date = next(s for s in skipped if s.file == "date.md")
    assert reason_text(date, "en") == "the front matter's published is not valid"


def test_report_summary_without_changes_and_with_many_files_stays_short():
    assert "ありませんでした" in report_summary(BuildReport(articles=1, passages=2))
    many = BuildReport(
        added=[f"{i}.md" for i in range(5000)], skipped=[Skipped("x" * 900 + ".md", "y")] * 50
    )
    assert len(report_summary(many)) <= 2000
    assert "ほか4990件" in report_summary(many)


def test_progress_and_usage_texts():
    assert progress_text("embed", 12, 40) == "⏳ 索引を作り直しています… 段落を読み込み中 12/40"
    topics = [Topic("a.md", "鹿の記事", "2025-04-15", None)]
    ja = usage("</ask:1>", "@newsbot", topics=topics, rate=3, per=30.0)
    assert "</ask:1>" in ja and "1人30秒に3問まで" in ja and "鹿の記事" in ja
    assert "ロシアの停戦条件は?" in ja
    en = usage(lang="en", rate=2, per=60)
    assert "2 questions per 60 seconds" in en and "What did Putin concede?" in en


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


def test_cli_numbers_sources_in_citation_order():
    """`newsbot ask` reads [1] first, as Discord does, when the lead is an appended sibling."""
    from bot.cli.output import format_answer

    hits = [
        hit(f"本文{i}。", sources=(f"https://example.jp/{i}",), section=f"節{i}") for i in "abc"
    ]
    asked = answer(["三つ目の文。", "一つ目の文。"], [3, 1], hits)
    text = format_answer(asked)
    lines = text.splitlines()
    assert lines[2] == "三つ目の文。[1] 一つ目の文。[2]"
    sources = [line for line in lines if line.startswith("[")]
    # Only the cited, with their own link's outlet, section and date; no passages.
    assert sources == ["[1] 毎日新聞 · 節c · 2025-03-19", "[2] 毎日新聞 · 節a · 2025-03-19"]
    assert lines[lines.index(sources[0]) + 1] == "    https://example.jp/c"
    assert "節b" not in text and "本文" not in text and text.count("見出し") == 1
    lines = format_answer(asked, passages=True).splitlines()
    passages = [line for line in lines if line.startswith("--- [")]
    assert [p.split()[1] for p in passages] == ["[1]", "[2]", "[-]"]  # the uncited last
    assert [lines[lines.index(p) + 1] for p in passages] == ["本文c。", "本文a。", "本文b。"]


def test_the_subject_leads_the_answer_in_discord_and_the_cli():
    """An article the quoted sentence leaves implicit is named first, in 【】, as news does."""
    import dataclasses

    from bot.cli.output import format_answer

    hits = [hit("「カリブ海の植物園」と呼ばれている。", title="ドミニカ国")]
    named = dataclasses.replace(
        answer(["「カリブ海の植物園」と呼ばれている。"], [1], hits), subject="ドミニカ*国*"
    )
    (embed,) = answer_reply(named).embeds
    # Markdown in a title is shown, never acted on.
    assert (
        embed.description
        == f"【**ドミニカ\\*国\\***】「カリブ海の植物園」と呼ばれている。[[1]]({MAINICHI})"
    )
    assert (
        format_answer(named).splitlines()[2]
        == "【ドミニカ*国*】「カリブ海の植物園」と呼ばれている。[1]"
    )
