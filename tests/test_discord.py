"""The real bot on real discord.py against simcord's offline Discord: commands, buttons, DMs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
from types import SimpleNamespace

import discord
import pytest
import simcord
from discord import app_commands

from bot.client import NewsBot, create_bot
from bot.errors import ADMIN_ONLY, BUSY, GENERIC, user_message
from bot.format import NO_ANSWER, NO_MORE, THANKS, usage
from bot.runner import run
from bot.settings import DiscordSettings, Settings
from index import Searcher
from index.errors import (
    ArticlesDirError,
    BuildInProgressError,
    IndexNotBuiltError,
    IndexWriteError,
    QuestionError,
)

from .conftest import make_options
from .discord_fixtures import (
    MAINICHI,
    RUSSIA,
    BrokenBuild,
    assert_within_discord_limits,
    copy_articles,
    huge_answer,
    huge_hit,
)


def settings_for(options, tmp_path, **discord_settings) -> Settings:
    # Feedback goes to data_dir: each test writes its own file, never the shared index's folder.
    index = dataclasses.replace(options, data_dir=tmp_path)
    return Settings(index=index, discord=DiscordSettings(**{"page_size": 2, **discord_settings}))


@pytest.fixture
def settings(options, tmp_path) -> Settings:
    return settings_for(options, tmp_path)


@pytest.fixture
def simcord_bot(settings, searcher) -> NewsBot:
    return create_bot(settings=settings, searcher=searcher)


@pytest.fixture
def world(simcord_env):
    env = simcord_env
    guild = env.create_guild("報道")
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return SimpleNamespace(
        env=env,
        bot=env.bot,
        guild=guild,
        ch=guild.create_text_channel("general"),
        alice=guild.add_member(env.create_user("alice")),
        bob=guild.add_member(env.create_user("bob")),
        admin=guild.add_member(env.create_user("admin"), roles=[mods]),
    )


def callback_types(env) -> list[int]:
    return [r.json["type"] for r in env.http_requests if r.path.endswith("/callback")]


def labels(message) -> list[str]:
    return [c["label"] for row in message.components for c in row["components"]]


def synced_commands(env) -> dict[str, dict]:
    (put,) = [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    return {c["name"]: c for c in put.json}


async def test_commands_sync_with_japanese_localizations_and_limits(world):
    ask, reindex = synced_commands(world.env)["ask"], synced_commands(world.env)["reindex"]
    assert ask["name_localizations"]["ja"] == "質問"
    assert ask["description_localizations"]["ja"].startswith("ニュース記事について質問")
    (question,) = ask["options"]
    assert (question["name"], question["name_localizations"]["ja"]) == ("question", "質問文")
    assert question["max_length"] == 300 and question["description_localizations"]["ja"]
    assert sorted(ask["contexts"]) == [0, 1, 2] and sorted(ask["integration_types"]) == [0, 1]
    assert reindex["name_localizations"]["ja"] == "再構築"
    manage_guild = discord.Permissions(manage_guild=True).value
    assert int(reindex["default_member_permissions"]) == manage_guild
    assert world.alice.available_commands(world.ch) == ("ask",)
    assert set(world.admin.available_commands(world.ch)) == {"ask", "reindex", "add"}


async def test_ask_defers_then_answers_with_cited_source_links(world):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    assert callback_types(world.env) == [5]  # deferred ("thinking") first, no direct reply
    msg = r.response
    answer, sources = msg.embeds
    assert not msg.ephemeral and msg.content == f"**質問:** {RUSSIA}"
    assert "[1]" in answer.description and "停戦" in answer.description
    assert sources.description.startswith("**[1]** [トランプとプーチン")
    assert f"]({MAINICHI})" in sources.description.splitlines()[0]
    assert labels(msg) == ["他の結果", "全文", "👍", "👎"]


async def test_ask_without_coverage_says_so_without_passages(world):
    r = await world.alice.slash(world.ch, "ask", question="火星の今日の天気は?")
    assert [e.description for e in r.response.embeds] == [NO_ANSWER]
    assert labels(r.response) == ["👍", "👎"]


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
    sent = [q.json for q in requests if q.method == "POST" and "/webhooks/" in q.path]
    assert sent and all(body["allowed_mentions"] == {"parse": []} for body in sent)


async def test_more_results_page_through_further_passages_privately(world):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    first = await world.alice.click(r.response, label="他の結果")
    second = await world.alice.click(r.response, label="他の結果")
    assert first.ephemeral and second.ephemeral
    assert [e.title[:4] for e in first.response.embeds] == ["[6] ", "[7] "]
    assert [e.title[:4] for e in second.response.embeds] == ["[8] ", "[9] "]
    assert all(e.url.startswith("https://") and e.description for e in first.response.embeds)
    seen_by_bob = [m.content for m in world.ch.history(viewer=world.bob)]
    assert not any("他の結果" in c for c in seen_by_bob)


async def test_more_results_say_so_when_the_coverage_runs_out(world, monkeypatch, searcher):
    async def only_the_answer(question, k):
        return searcher.search(question, k=5)  # nothing beyond what the answer already cites

    monkeypatch.setattr(world.bot, "search", only_the_answer)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    more = await world.alice.click(r.response, label="他の結果")
    assert more.ephemeral and (more.response.content, more.response.embeds) == (NO_MORE, [])


async def test_full_text_shows_the_cited_passages_privately(world, searcher):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    full = await world.bob.click(r.response, label="全文")
    hits = searcher.ask(RUSSIA).hits
    assert full.ephemeral
    assert [e.description for e in full.response.embeds] == [h.text for h in hits]
    assert full.response.embeds[0].url == MAINICHI


async def test_votes_append_feedback_lines(world, settings):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    up = await world.alice.click(r.response, label="👍")
    await world.bob.click(r.response, label="👎")
    assert up.ephemeral and up.response.content == THANKS
    path = settings.index.data_dir / "feedback.jsonl"
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    votes = [(x["user_id"], x["vote"]) for x in lines]
    assert votes == [(world.alice.id, "up"), (world.bob.id, "down")]
    assert lines[0]["question"] == RUSSIA and lines[0]["answer"].endswith("[1]")
    assert lines[0]["sources"][0] == MAINICHI and lines[0]["time"].startswith("20")


async def test_buttons_are_removed_when_the_view_expires(world):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    await world.env.advance_time(600)
    assert r.response.components == [] and r.response.embeds


@pytest.mark.simcord(settle_timeout=2)
async def test_search_slower_than_three_seconds_is_answered_after_defer(world, monkeypatch):
    real = world.bot.answer

    async def slow(question):
        await asyncio.sleep(4)  # on the virtual clock, past Discord's 3-second window
        return await real(question)

    monkeypatch.setattr(world.bot, "answer", slow)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    assert r.deferred and r.response.embeds == []
    await world.env.advance_time(4)
    assert f"]({MAINICHI})" in r.response.embeds[1].description


async def test_oversized_answers_fit_discord_limits_end_to_end(world, monkeypatch):
    async def huge(question):
        return huge_answer(12)

    async def huge_search(question, k):
        return [huge_hit(i) for i in range(k)]

    monkeypatch.setattr(world.bot, "answer", huge)
    monkeypatch.setattr(world.bot, "search", huge_search)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    full = await world.alice.click(r.response, label="全文")
    more = await world.alice.click(r.response, label="他の結果")
    for msg in (r.response, full.response, more.response):  # simcord would have raised 50035
        assert msg.embeds
        assert_within_discord_limits(msg.content, msg.embeds)
    assert [e.title[:5] for e in more.response.embeds] == ["[13] ", "[14] "]


async def test_unexpected_error_after_defer_is_one_polite_line_and_logged(
    world, monkeypatch, caplog
):
    async def broken(question):
        raise RuntimeError("index file /secret/path/text.bin vanished")

    monkeypatch.setattr(world.bot, "answer", broken)
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    # The "thinking…" placeholder becomes the apology; no traceback, path or exception name.
    assert (r.response.content, r.response.embeds) == (GENERIC, [])
    assert [m.content for m in world.ch.history()] == [GENERIC]
    assert isinstance(world.env.errors[0].original, RuntimeError)
    assert any(r.exc_info and r.levelno == logging.ERROR for r in caplog.records)


class TestCooldown:
    @pytest.fixture
    def settings(self, options, tmp_path):
        return settings_for(options, tmp_path, cooldown_rate=1, cooldown_seconds=30)

    async def test_cooldown_counts_on_the_virtual_clock_and_covers_dms(self, world):
        alice = world.alice
        assert (await alice.slash(world.ch, "ask", question=RUSSIA)).response.embeds
        refused = await alice.slash(world.ch, "ask", question=RUSSIA)
        assert refused.ephemeral
        assert refused.response.content == "少し待ってからもう一度お試しください（あと30秒）。"
        await world.env.advance_time(29)
        await alice.send_dm(RUSSIA)
        assert alice.user.dm_channel.history()[-1].content.endswith("（あと1秒）。")
        await world.env.advance_time(1)
        assert (await alice.slash(world.ch, "ask", question=RUSSIA)).response.embeds
        errors = world.env.errors
        assert [type(e) for e in errors] == [app_commands.CommandOnCooldown]


async def test_dm_question_is_answered_in_the_dm(world):
    user = world.env.create_user("dmuser")
    asked = await user.send_dm(RUSSIA)
    history = user.dm_channel.history()
    assert len(history) == 2
    reply = history[-1]
    assert reply.author.id == world.bot.user.id and reply.reference.message_id == asked.id
    assert f"]({MAINICHI})" in reply.embeds[1].description
    full = await user.click(reply, label="全文")
    assert full.ephemeral and full.response.embeds[0].url == MAINICHI


@pytest.mark.parametrize("text", ["ヘルプ", "help", "？", "x" * 301], ids=["ja", "en", "?", "long"])
async def test_dm_help_or_a_too_long_question_gets_guidance(world, text):
    user = world.env.create_user("dmuser")
    await user.send_dm(text)
    reply = user.dm_channel.history()[-1]
    expected = usage(world.bot.command_mention("ask"), world.bot.user.name)
    too_long = "質問が長すぎます（301文字、上限300文字）。"
    assert reply.content == (expected if len(text) < 300 else too_long)
    assert "</ask:" in expected


async def test_messages_from_bots_are_ignored(world):
    other = world.env.create_user("otherbot", bot=True)
    await other.send_dm(RUSSIA)
    assert len(other.dm_channel.history()) == 1


async def test_mention_in_a_channel_is_answered_as_a_reply(world):
    await world.alice.send(world.ch, RUSSIA)  # no mention: not for us (and its text is hidden)
    asked = await world.alice.send(world.ch, f"{world.bot.user.mention} {RUSSIA}")
    bot_messages = [m for m in world.ch.history() if m.author.id == world.bot.user.id]
    (reply,) = bot_messages
    assert reply.reference.message_id == asked.id
    assert reply.content == f"**質問:** {RUSSIA}"
    assert f"]({MAINICHI})" in reply.embeds[1].description
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
        assert edits[0].startswith("⏳ 再構築中… パッセージを埋め込み中 ")  # progress, then summary
        summary = r.response.content
        assert edits[-1] == summary and summary.startswith("✅ 再構築が完了しました")
        assert "追加 1件: shogi-titles.md" in summary and "スキップ 1件: broken.md（" in summary
        assert f"記事 3件・パッセージ {fresh.info()['passages']}件" in summary
        shogi = "将棋のタイトル戦の挑戦者はどう決まる?"
        asked = await world.alice.slash(world.ch, "ask", question=shogi)
        assert "](https://example.com/news/shogi-titles)" in asked.response.embeds[1].description

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
        assert f"]({MAINICHI})" in asked.response.embeds[1].description
        await world.env.advance_time(600)
        assert first.response.content.startswith("✅ 再構築が完了しました")
        assert [type(e.original) for e in world.env.errors] == [BuildInProgressError]

    async def test_failed_build_keeps_the_old_index_and_says_why_in_one_line(self, world, fresh):
        shutil.rmtree(fresh.options.articles_dir)
        r = await world.admin.slash(world.ch, "reindex")
        assert r.response.content == (
            "⚠️ 再構築できませんでした: 記事フォルダが見つからないか、読めません。"
            " 以前の索引で回答を続けます。"
        )
        asked = await world.alice.slash(world.ch, "ask", question=RUSSIA)
        assert f"]({MAINICHI})" in asked.response.embeds[1].description

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
            assert f"]({MAINICHI})" in r.response.embeds[1].description
    finally:
        await env.shutdown()
    env.raise_errors()


def test_create_bot_wires_dependencies_without_privileged_intents(settings, searcher, monkeypatch):
    opened = []
    monkeypatch.setattr(Searcher, "open", lambda options: opened.append(options) or searcher)
    bot = create_bot(settings=settings)
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

    monkeypatch.setattr("bot.client.create_bot", lambda settings: Rejected())
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
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 30), 12.2), "（あと13秒）"),
        (app_commands.MissingPermissions(["manage_guild"]), ADMIN_ONLY),
        (BuildInProgressError("busy"), BUSY),
        (ArticlesDirError("articles folder not found: /srv/x"), "記事フォルダが見つからないか"),
        (IndexNotBuiltError("the index is not loaded; run 'newsbot index'"), "/reindex を依頼"),
        (IndexWriteError("cannot write the new index in /srv/i (No space)"), "保存できません"),
        (KeyError("/etc/passwd"), GENERIC),
    ],
)
def test_errors_map_to_short_japanese_replies_without_paths(error, expected):
    text = user_message(error)
    assert expected in text and "/srv" not in text and "/etc" not in text and "\n" not in text
