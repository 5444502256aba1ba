"""The real bot on real discord.py against simcord's offline Discord: commands, buttons, DMs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import shutil
import sqlite3

import discord
import pytest
import simcord
from discord import app_commands

from bot.client import NewsBot, create_bot
from bot.errors import ADMIN_ONLY, BUSY, GENERIC, user_message
from bot.runner import run
from bot.settings import Settings
from bot.ui.i18n import EXAMPLES, text
from bot.ui.wording import refusal_headline
from index import Searcher
from index.errors import (
    ALLOW_EMPTY,
    UPGRADE,
    ArticlesDirError,
    BuildInProgressError,
    EmptyArticlesError,
    IndexCorruptError,
    IndexNotBuiltError,
    IndexWriteError,
    QuestionError,
)

from .conftest import make_options
from .discord_fixtures import (
    MAINICHI,
    RUSSIA,
    BrokenBuild,
    SearcherWrapper,
    all_text,
    assert_within_discord_limits,
    copy_articles,
    huge_answer,
    huge_hit,
    labels,
    settings_for,
)

# The bot's fixtures (settings, simcord_bot, world), shared with the reliability tests.
pytest_plugins = ["tests.discord_fixtures"]
PUTIN_EN = "What did Putin concede?"
LINK_TARGET = re.compile(r"\]\([^)]*\)")


def callback_types(env) -> list[int]:
    return [r.json["type"] for r in env.http_requests if r.path.endswith("/callback")]


def synced_commands(env) -> dict[str, dict]:
    (put,) = [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    return {c["name"]: c for c in put.json}


async def test_commands_sync_with_japanese_localizations_and_limits(world):
    ask, reindex = synced_commands(world.env)["ask"], synced_commands(world.env)["reindex"]
    assert ask["name_localizations"]["ja"] == "質問"
    assert ask["description_localizations"]["ja"].startswith("ニュース記事について質問")
    question, outlet, since, until = ask["options"]
    assert (question["name"], question["name_localizations"]["ja"]) == ("question", "質問文")
    assert question["max_length"] == 300 and question["description_localizations"]["ja"]
    assert question["required"] and not any(o.get("required") for o in (outlet, since, until))
    assert [o["name_localizations"]["ja"] for o in (outlet, since, until)] == [
        "媒体",
        "開始日",
        "終了日",
    ]
    assert outlet["autocomplete"] and "YYYY-MM-DD" in since["description"]
    topics = synced_commands(world.env)["topics"]
    assert topics["name_localizations"]["ja"] == "話題" and not topics.get("options")
    assert sorted(ask["contexts"]) == [0, 1, 2] and sorted(ask["integration_types"]) == [0, 1]
    assert reindex["name_localizations"]["ja"] == "再構築"
    manage_guild = discord.Permissions(manage_guild=True).value
    assert int(reindex["default_member_permissions"]) == manage_guild
    # Anyone may erase what they asked (/forget-me, ja 自分の記録を削除), and follow topics.
    follow = {"follow", "following", "unfollow", "digest"}  # issue 35
    everyone = {"ask", "topics", "forget-me"} | follow
    assert set(world.alice.available_commands(world.ch)) == everyone
    admin = everyone | {"reindex", "add", "report"}
    assert set(world.admin.available_commands(world.ch)) == admin
    report = synced_commands(world.env)["report"]
    assert report["name_localizations"]["ja"] == "レポート"
    assert report["default_member_permissions"] == reindex["default_member_permissions"]
    forget = synced_commands(world.env)["forget-me"]
    assert forget["name_localizations"]["ja"] == "自分の記録を削除"
    assert not forget.get("default_member_permissions")
    followed = synced_commands(world.env)["follow"]
    assert followed["name_localizations"]["ja"] == "フォロー"
    assert followed["options"][0]["name_localizations"]["ja"] == "話題"


def plain_text(message) -> str:
    """What a reader sees: all_text with word joiners gone and masked links as their label."""
    return LINK_TARGET.sub("", all_text(message).replace("\u2060", ""))


def source_lines(message) -> list[str]:
    (field,) = message.embeds[0].fields
    return [x for x in field.value.splitlines() if x.startswith("**[")]


async def test_ask_answers_at_once_in_one_embed_citing_only_its_sources(world, searcher):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    assert callback_types(world.env) == [4]  # the search fit its budget: answered directly
    msg = r.response
    assert not msg.ephemeral and msg.content == f"**質問:** {RUSSIA}"
    (embed,) = msg.embeds
    assert f"[[1]]({MAINICHI})" in embed.description and "停戦" in embed.description
    assert embed.description.count("[[1]]") == 1  # consecutive citations of [1] merged
    assert embed.fields[0].name == "出典" and not embed.footer.text
    cited = {searcher.ask(RUSSIA).hits[n - 1].sources[0] for n in searcher.ask(RUSSIA).citations}
    assert len(source_lines(msg)) == len(cited)  # only what the answer cites, once each
    first = source_lines(msg)[0].replace("\u2060", "")
    assert first.startswith(f"**[1]** [毎日新聞]({MAINICHI}) · ")
    assert first.endswith(" · 2025年3月19日")
    assert embed.fields[0].value.count("トランプとプーチン") == 1  # the article's title once
    assert labels(msg) == ["根拠", "他の結果", "👍", "👎", "スレッドで続ける"]
    # Fits one phone screen: well under 1,200 characters even counting the link targets.
    assert len(all_text(msg)) <= 1200 and len(plain_text(msg)) <= 700


async def test_english_question_gets_english_labels_and_a_note_on_the_japanese_coverage(world):
    r = await world.alice.slash(world.ch, "ask", question=PUTIN_EN)
    (embed,) = r.response.embeds
    assert r.response.content == f"**Q:** {PUTIN_EN}"
    assert embed.fields[0].name == "Sources" and "Japanese" in embed.footer.text
    assert "Mar\xa019,\xa02025" in embed.fields[0].value and "年" not in embed.fields[0].value
    assert labels(r.response) == ["Evidence", "More results", "👍", "👎", "Continue in thread"]
    evidence = await world.alice.click(r.response, label="Evidence")
    assert evidence.response.content.startswith("**Evidence**")


@pytest.mark.parametrize(
    ("question", "lang"), [("火星の今日の天気は?", "ja"), ("What is the weather on Mars?", "en")]
)
async def test_uncovered_question_is_told_privately_what_the_coverage_holds(
    world, searcher, question, lang
):
    r = await world.alice.slash(world.ch, "ask", question=question)
    assert r.ephemeral and labels(r.response) == []  # nothing to vote on, seen by the asker
    (embed,) = r.response.embeds
    description = embed.description.replace("\u2060", "")
    # "Not covered", or what the coverage lacks (「火星」「天気」についての記事はありません。).
    first = description.split("\n")[0]
    lacks = ("「", "The coverage has nothing on")
    assert first == refusal_headline("off_topic", (), lang) or first.startswith(lacks)
    topics = [t.title for t in searcher.topics(4)]
    assert topics[0] == "奈良公園の鹿、神の使いとして守られてきた歴史"  # newest first
    where = [description.index(t) for t in topics]
    assert where == sorted(where)
    assert text(lang, "examples") in description
    assert "http" not in description
    assert [m for m in world.ch.history(viewer=world.bob) if m.author.id == world.bot.user.id] == []


def test_example_questions_are_answered_by_the_shipped_coverage(searcher):
    for lang, questions in EXAMPLES.items():
        for q in questions:
            answer = searcher.ask(q)
            assert not answer.no_answer and answer.lang == lang, q


async def test_unsearchable_question_is_refused_privately_before_any_work(world):
    r = await world.alice.slash(world.ch, "ask", question="？？？")
    assert r.ephemeral and r.response.content == "質問に検索できる文字がありません。"
    assert callback_types(world.env) == [4]  # answered at once, never deferred
    (error,) = world.env.errors
    assert isinstance(error.original, QuestionError)


async def test_mentions_in_a_question_never_ping(world):
    r = await world.alice.slash(world.ch, "ask", question=f"@everyone {world.bob.mention} {RUSSIA}")
    assert "@everyone" not in r.response.content and world.bob.mention not in r.response.content
    requests = world.env.http_requests
    sent = [q.json["data"] for q in requests if q.path.endswith("/callback")]
    assert sent and all(body["allowed_mentions"] == {"parse": []} for body in sent)


async def test_more_results_stop_at_the_related_passages_and_say_so(world, searcher):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    pages = [await world.alice.click(r.response, label="他の結果") for _ in range(3)]
    assert all(p.ephemeral for p in pages)
    shown = [e for p in pages for e in p.response.embeds]
    cited = {searcher.ask(RUSSIA).hits[n - 1].section for n in searcher.ask(RUSSIA).citations}
    # Only the other sections of the article the answer cites: no 将棋 or 富士山.
    assert shown and all((e.author.name or e.title).startswith("トランプとプーチン") for e in shown)
    assert not any(e.title in cited for e in shown)
    assert [len(p.response.embeds) for p in pages] == [2, 1, 0]
    contents = [p.response.content for p in pages]
    assert contents == [
        "**他の結果**",
        f"**他の結果** {text('ja', 'more.last')}",
        text("ja", "more.end"),
    ]
    assert all(e.url.startswith("https://") and e.description for e in shown)
    seen_by_bob = [m.content for m in world.ch.history(viewer=world.bob)]
    assert not any("他の結果" in (c or "") for c in seen_by_bob)


async def test_more_results_say_so_when_the_coverage_runs_out(world, monkeypatch, searcher):
    async def only_the_answer(answer, k, filters=None):
        return searcher.ask(answer.question).hits[:1]  # nothing beyond what the answer cites

    monkeypatch.setattr(world.bot, "more", only_the_answer)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    more = await world.alice.click(r.response, label="他の結果")
    assert more.ephemeral and more.response.embeds == []
    assert more.response.content == text("ja", "more.end")


async def test_evidence_shows_the_cited_passages_privately_with_the_quotes_in_bold(world, searcher):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    evidence = await world.bob.click(r.response, label="根拠")
    answer = searcher.ask(RUSSIA)
    assert evidence.ephemeral and evidence.response.content.startswith("**根拠**")
    embeds = evidence.response.embeds  # one per cited passage, both of the Mainichi section
    assert len(embeds) == len(set(answer.citations)) == 2
    assert all(e.url == MAINICHI for e in embeds) and embeds[0].title.startswith("[1] ")
    shown = "\n".join(e.description for e in embeds)
    for sentence in answer.sentences:
        assert f"**{sentence}**" in shown


async def test_no_reply_shows_page_furniture_whatever_the_index_holds(world, monkeypatch):
    real = world.bot.answer
    furniture = (
        "\n公開日:2025/03/19\n✅ 要点です。\n💡 ヒント。\nさらに読む ⇒出典/画像元: https://x.jp/a"
    )

    async def furnished(question, **kwargs):
        answer = await real(question, **kwargs)
        hits = tuple(dataclasses.replace(h, text=h.text + furniture) for h in answer.hits)
        marked = tuple(f"✅ {s}" for s in answer.sentences)  # as the core may quote a list item
        return dataclasses.replace(answer, hits=hits, sentences=marked)

    async def furnished_search(answer, k, filters=None):
        return list((await furnished(answer.question)).hits)

    monkeypatch.setattr(world.bot, "answer", furnished)
    monkeypatch.setattr(world.bot, "more", furnished_search)
    asked = [await world.alice.slash(world.ch, "ask", question=q) for q in (RUSSIA, PUTIN_EN)]
    replies = [a.response for a in asked]
    for a in asked:
        for label in ("根拠", "Evidence", "他の結果", "More results"):
            if label in labels(a.response):
                replies.append((await world.alice.click(a.response, label=label)).response)
    everything = "\n".join(all_text(m) for m in replies)
    assert "要点です。" in everything  # the passage text stays, its marks go
    assert "**しかし、この停戦は" in everything  # quoted sentences are still found and bold
    for mark in ("✅", "💡", "公開日", "さらに読む", "画像元", "https://x.jp"):
        assert mark not in everything


async def test_votes_are_stored_with_the_answer_they_judge(world, settings):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    up = await world.alice.click(r.response, label="👍")
    await world.bob.click(r.response, label="👎")
    assert up.ephemeral and up.response.content == text("ja", "thanks")
    assert world.bot.usage.writer.flush(10)
    conn = sqlite3.connect(settings.index.data_dir / "usage.db")
    votes = conn.execute(
        "SELECT q.text, q.answer, v.vote FROM votes v JOIN questions q USING (answer_id) "
        "ORDER BY v.vote DESC"
    ).fetchall()
    conn.close()
    assert [(q, v) for q, _, v in votes] == [(RUSSIA, 1), (RUSSIA, -1)]
    assert votes[0][1].endswith("[1]")


async def test_buttons_are_removed_when_the_view_expires(world):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    await world.env.advance_time(600)
    assert r.response.components == [] and r.response.embeds


@pytest.mark.simcord(settle_timeout=2)
async def test_search_slower_than_its_budget_is_deferred_then_answered(world, monkeypatch):
    real = world.bot.answer

    async def slow(question, **kwargs):
        await asyncio.sleep(4)  # on the virtual clock, past Discord's 3-second window
        return await real(question, **kwargs)

    monkeypatch.setattr(world.bot, "answer", slow)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    assert not r.acknowledged
    await world.env.advance_time(2.5)
    assert r.deferred and r.response.embeds == []
    await world.env.advance_time(2)
    assert f"]({MAINICHI})" in r.response.embeds[0].description
    assert not r.response.ephemeral


async def test_oversized_answers_fit_discord_limits_end_to_end(world, monkeypatch):
    async def huge(question, **kwargs):
        return huge_answer(12)

    async def huge_search(answer, k, filters=None):
        return [huge_hit(i) for i in range(k)]

    monkeypatch.setattr(world.bot, "answer", huge)
    monkeypatch.setattr(world.bot, "more", huge_search)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    evidence = await world.alice.click(r.response, label="根拠")
    more = await world.alice.click(r.response, label="他の結果")
    for msg in (r.response, evidence.response, more.response):  # simcord would raise 50035
        assert msg.embeds
        assert_within_discord_limits(msg.content, msg.embeds)
    assert len(more.response.embeds) == 2


async def test_unexpected_error_is_one_private_polite_line_and_logged(world, monkeypatch, caplog):
    async def broken(question, **kwargs):
        raise RuntimeError("index file /secret/path/text.bin vanished")

    monkeypatch.setattr(world.bot, "answer", broken)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    # No traceback, path or exception name; only the asker sees it.
    assert r.ephemeral and (r.response.content, r.response.embeds) == (GENERIC, [])
    assert world.ch.history(viewer=world.bob) == []
    assert isinstance(world.env.errors[0].original, RuntimeError)
    assert any(r.exc_info and r.levelno == logging.ERROR for r in caplog.records)


COUNTDOWN = re.compile(r"<t:(\d+):R>")


class TestCooldown:
    @pytest.fixture
    def settings(self, options, tmp_path):
        return settings_for(options, tmp_path, cooldown_rate=1, cooldown_seconds=30)

    async def test_cooldown_counts_on_the_virtual_clock_and_covers_dms(self, world):
        alice = world.alice
        assert (await alice.slash(world.ch, "ask", question=RUSSIA)).response.embeds
        refused = await alice.slash(world.ch, "ask", question=RUSSIA)
        assert refused.ephemeral
        # A live countdown (Discord shows "30秒後"), never a number of seconds that goes stale.
        (when,) = COUNTDOWN.findall(refused.response.content)
        now = discord.utils.utcnow().timestamp()
        assert 29 <= int(when) - now <= 31
        await world.env.advance_time(29)
        await alice.send_dm(RUSSIA)
        (dm_when,) = COUNTDOWN.findall(alice.user.dm_channel.history()[-1].content)
        assert dm_when == when
        await world.env.advance_time(1)
        assert (await alice.slash(world.ch, "ask", question=RUSSIA)).response.embeds
        errors = world.env.errors
        assert [type(e) for e in errors] == [app_commands.CommandOnCooldown]

    async def test_a_mention_on_cooldown_gets_a_reaction_not_a_message(self, world):
        mention = world.bot.user.mention
        await world.alice.send(world.ch, f"{mention} {RUSSIA}")
        again = await world.alice.send(world.ch, f"{mention} {RUSSIA}")
        bot_messages = [m for m in world.ch.history() if m.author.id == world.bot.user.id]
        assert len(bot_messages) == 1  # the first answer only
        last = world.ch.history()[-1]
        (reaction,) = last.reactions
        assert last.id == again.id and (str(reaction.emoji), reaction.count) == ("⏳", 1)


async def test_dm_question_is_answered_in_the_dm_without_echoing_it(world):
    user = world.env.create_user("dmuser")
    asked = await user.send_dm(RUSSIA)
    history = user.dm_channel.history()
    assert len(history) == 2
    reply = history[-1]
    assert reply.author.id == world.bot.user.id and reply.reference.message_id == asked.id
    assert not reply.content and RUSSIA not in all_text(reply)  # the quote shows the question
    assert f"]({MAINICHI})" in reply.embeds[0].description
    evidence = await user.click(reply, label="根拠")
    assert evidence.ephemeral and evidence.response.embeds[0].url == MAINICHI


@pytest.mark.parametrize(
    ("text_", "lang"), [("ヘルプ", "ja"), ("help", "en"), ("？", "ja")], ids=["ja", "en", "?"]
)
async def test_dm_help_shows_how_to_ask_examples_topics_and_the_limit(world, searcher, text_, lang):
    user = world.env.create_user("dmuser")
    await user.send_dm(text_)
    reply = user.dm_channel.history()[-1].content
    assert "</ask:" in reply
    assert EXAMPLES[lang][0] in reply and searcher.topics(1)[0].title in reply
    assert ("3問" if lang == "ja" else "3 questions per 30 seconds") in reply


async def test_dm_with_a_too_long_question_is_told_the_limit(world):
    user = world.env.create_user("dmuser")
    await user.send_dm("x" * 301)
    assert user.dm_channel.history()[-1].content == "質問が長すぎます（301文字、上限300文字）。"


async def test_messages_from_bots_are_ignored(world):
    other = world.env.create_user("otherbot", bot=True)
    await other.send_dm(RUSSIA)
    assert len(other.dm_channel.history()) == 1


async def test_mention_in_a_channel_is_answered_as_a_reply_without_echo(world):
    await world.alice.send(world.ch, RUSSIA)  # no mention: not for us (and its text is hidden)
    asked = await world.alice.send(world.ch, f"{world.bot.user.mention} {RUSSIA}")
    bot_messages = [m for m in world.ch.history() if m.author.id == world.bot.user.id]
    (reply,) = bot_messages
    assert reply.reference.message_id == asked.id and not reply.content
    assert f"]({MAINICHI})" in reply.embeds[0].description
    await world.bob.send(world.ch, f"{world.bot.user.mention} ")  # a bare mention: how to use
    assert world.ch.history()[-1].content.startswith("ニュース記事について質問すると")


async def test_reindex_is_hidden_from_members(world):
    with pytest.raises(simcord.SetupError):
        await world.alice.slash(world.ch, "reindex")


async def test_reindex_granted_to_a_member_is_still_refused_at_run_time(world):
    world.guild.set_command_permissions(world.bot.command_ids["reindex"], {world.alice: True})
    r = await world.alice.slash(world.ch, "reindex")
    assert r.ephemeral and r.response.content == ADMIN_ONLY
    assert [type(e) for e in world.env.errors] == [app_commands.CheckFailure]


@pytest.mark.simcord(settle_timeout=60)
class TestReindex:
    """/reindex on a Searcher of its own: the session index is shared and must not change."""

    @pytest.fixture
    def fresh(self, tmp_path, embedder) -> Searcher:
        articles = copy_articles(tmp_path / "articles", "nara-deer.md")
        return Searcher.open(make_options(tmp_path, articles), embedder=embedder)

    @pytest.fixture
    def simcord_bot(self, fresh, tmp_path) -> NewsBot:
        return create_bot(settings=settings_for(fresh.options, tmp_path), searcher=fresh)

    async def test_admin_sees_progress_then_a_summary_and_the_new_index_answers(self, world, fresh):
        articles = fresh.options.articles_dir
        copy_articles(articles, "shogi-titles.md")
        (articles / "broken.md").write_text("no front matter here", encoding="utf-8")
        r = await world.admin.slash(world.ch, "reindex")
        assert r.ephemeral
        edits = [q.json["content"] for q in world.env.http_requests if q.method == "PATCH"]
        assert edits[0].startswith("⏳ 索引を作り直しています… 段落を読み込み中 ")  # then summary
        summary = r.response.content
        assert edits[-1] == summary and summary.startswith("✅ 索引を作り直しました")
        assert "追加 1件: shogi-titles.md" in summary
        # The core's English reason, in Japanese: the file must start with front matter.
        assert "読み込めなかった記事 1件:\n・broken.md: 先頭に「---」で囲んだ記事情報" in summary
        assert f"記事 3件・段落 {fresh.info()['passages']}件" in summary
        for jargon in ("パッセージ", "埋め込み", "front matter", "スキップ"):
            assert jargon not in summary and jargon not in edits[0]
        shogi = "将棋のタイトル戦の挑戦者はどう決まる?"
        asked = await world.alice.slash(world.ch, "ask", question=shogi)
        assert "](https://example.com/news/shogi-titles)" in asked.response.embeds[0].description

    async def test_second_reindex_is_told_one_is_running_while_ask_keeps_answering(
        self, world, monkeypatch
    ):
        real = world.bot.reindex

        async def slow(**kwargs):
            await asyncio.sleep(600)  # a long build, parked until the test moves the clock
            return await real(**kwargs)

        monkeypatch.setattr(world.bot, "reindex", slow)
        first = await world.admin.slash(world.ch, "reindex")
        assert first.deferred
        second = await world.admin.slash(world.ch, "reindex")
        assert second.ephemeral and second.response.content == BUSY
        asked = await world.alice.slash(world.ch, "ask", question=RUSSIA)
        assert f"]({MAINICHI})" in asked.response.embeds[0].description
        await world.env.advance_time(600)
        assert first.response.content.startswith("✅ 索引を作り直しました")
        assert [type(e.original) for e in world.env.errors] == [BuildInProgressError]

    async def test_failed_build_keeps_the_old_index_and_says_why_in_one_line(self, world, fresh):
        shutil.rmtree(fresh.options.articles_dir)
        r = await world.admin.slash(world.ch, "reindex")
        assert r.response.content == (
            "⚠️ 再構築できませんでした: 記事フォルダが見つからないか、読めません。"
            " 以前の索引で回答を続けます。"
        )
        asked = await world.alice.slash(world.ch, "ask", question=RUSSIA)
        assert f"]({MAINICHI})" in asked.response.embeds[0].description

    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (BuildInProgressError("another reindex is already running"), BUSY),
            (OSError(28, "No space left on device", "/srv/newsbot/data/index/v-2"), "OSError"),
        ],
    )
    async def test_build_errors_from_the_searcher_are_one_line_without_paths(
        self, world, fresh, caplog, error, expected
    ):
        world.bot.searcher = BrokenBuild(fresh, error)
        r = await world.admin.slash(world.ch, "reindex")
        text = r.response.content
        assert expected in text and "\n" not in text and "/srv" not in text
        logged = [x for x in caplog.records if x.exc_info and x.name == "bot.errors"]
        assert bool(logged) == isinstance(error, OSError)  # the unexpected one, with traceback

    async def test_in_dms_only_owners_may_reindex(self, world):
        bot, stranger = world.bot, world.env.create_user("stranger")
        owner = world.env.create_user("owner")
        bot.settings = dataclasses.replace(
            bot.settings, discord=dataclasses.replace(bot.settings.discord, owner_ids=(owner.id,))
        )
        refused = await stranger.slash("reindex")
        assert refused.ephemeral and refused.response.content == ADMIN_ONLY
        done = await owner.slash("reindex")
        assert "記事の追加・変更・削除はありませんでした。" in done.response.content
        assert [type(e) for e in world.env.errors] == [app_commands.CheckFailure]


async def test_dev_guild_gets_the_commands_without_a_global_sync(options, searcher, tmp_path):
    dev_id = 1234567890123456789
    settings = settings_for(options, tmp_path, dev_guild_id=dev_id)
    bot = create_bot(settings=settings, searcher=searcher)
    env = simcord.Env(bot)
    guild = env.create_guild("dev", id=dev_id)  # exists before the bot starts and syncs
    await env.start()
    try:
        with env.time_context():
            puts = [r.path for r in env.http_requests if r.method == "PUT"]
            assert puts == [f"/applications/{bot.application_id}/guilds/{dev_id}/commands"]
            member = guild.add_member(env.create_user("dev"))
            r = await member.slash(guild.create_text_channel("dev"), "ask", question=RUSSIA)
            assert f"]({MAINICHI})" in r.response.embeds[0].description
    finally:
        await env.shutdown()
    env.raise_errors()


def test_create_bot_wires_dependencies_without_privileged_intents(settings, searcher, monkeypatch):
    opened = []
    bot = create_bot(settings=settings, open_searcher=lambda o, **kw: opened.append(o) or searcher)
    assert opened == [settings.index] and bot.searcher is searcher and bot.settings is settings
    assert not (bot.intents.message_content or bot.intents.members or bot.intents.presences)
    assert bot.intents.dm_messages and bot.intents.guild_messages
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert not bot.is_ready() and bot.user is None


def test_run_without_a_token_fails_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr("bot.client.create_bot", lambda settings: pytest.fail("must not start"))
    assert run(Settings(token=None)) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: error: DISCORD_TOKEN is not set") and err.count("\n") == 1


def test_run_with_a_rejected_token_fails_in_one_line_without_the_token(capsys, caplog, monkeypatch):
    class Rejected:
        def run(self, token, log_handler):
            assert log_handler is None  # logging is configured once, by the runner
            raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr("bot.client.create_bot", lambda settings, **kwargs: Rejected())
    assert run(Settings(token="sekrit.token.value")) == 2
    out = capsys.readouterr()
    assert out.err.startswith("newsbot: error: Discord rejected the token")
    assert out.err.count("\n") == 1
    assert "sekrit" not in out.err + out.out + caplog.text
    assert logging.getLogger("discord.http").level == logging.WARNING


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (QuestionError("質問が空です。"), "質問が空です。"),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 30), 12.2), ":R>にもう一度"),
        (app_commands.MissingPermissions(["manage_guild"]), ADMIN_ONLY),
        (BuildInProgressError("busy"), BUSY),
        (ArticlesDirError("articles folder not found: /srv/x"), "記事フォルダが見つからないか"),
        (IndexNotBuiltError("the index is not loaded"), "/reindex を依頼"),
        (EmptyArticlesError("no usable articles in /srv/a", hint=ALLOW_EMPTY), "以前のまま"),
        (IndexCorruptError("schema 2, newer than this newsbot's", hint=UPGRADE), "更新を依頼"),
        (IndexWriteError("cannot write the new index in /srv/i (No space)"), "保存できません"),
        (KeyError("/etc/passwd"), GENERIC),
    ],
)
def test_errors_map_to_short_japanese_replies_without_paths(error, expected):
    text = user_message(error)
    assert expected in text and "/srv" not in text and "/etc" not in text and "\n" not in text


def test_wrapper_covers_the_searcher_interface(searcher):
    """The test searchers forward every public part of Searcher explicitly (no __getattr__)."""
    public = {n for n in [*dir(Searcher), *vars(searcher)] if not n.startswith("_")}
    assert public - {"open"} <= set(vars(SearcherWrapper))
    assert not hasattr(SearcherWrapper, "__getattr__")
