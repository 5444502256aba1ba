"""Use data from the real bot in simcord: questions and votes land in usage.db; /report."""

from __future__ import annotations

import logging
import sqlite3

import pytest
import simcord
from discord import app_commands

from bot.client import create_bot
from bot.errors import ADMIN_ONLY

from .discord_fixtures import MAINICHI, RUSSIA, labels, make_world

pytest_plugins = ["tests.discord_fixtures"]
MARS = "火星の今日の天気は?"
FORTUNE = "今日の占いは?"
GAZA = "ガザの停戦は?"
REFUSALS = ("off_topic", "no_subject", "other_news")  # whichever the core gives: stored as is


def rows(settings, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(settings.index.data_dir / "usage.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def flush(world) -> None:
    assert world.bot.usage.writer.flush(10)


async def test_questions_are_recorded_with_place_outcome_citations_and_no_raw_ids(
    world, settings, searcher
):
    await world.alice.slash(world.ch, "ask", question=RUSSIA)
    await world.bob.slash(world.ch, "ask", question=FORTUNE)
    await world.alice.send_dm(GAZA)
    flush(world)
    got = rows(
        settings,
        "SELECT text, place, answered, reason, follow_up, latency_ms, user_hash, guild_hash "
        "FROM questions ORDER BY id",
    )
    assert [(t, p, a) for t, p, a, *_ in got] == [
        (RUSSIA, "channel", 1),
        (FORTUNE, "channel", 0),
        (GAZA, "dm", 0),
    ]
    # Why not is the core's reason: naming something the coverage lacks (ガザ) is other news.
    assert got[0][3] is None and got[2][3] == "other_news"
    assert got[1][3] == searcher.ask(FORTUNE).reason and got[1][3] in REFUSALS
    assert all(r[4] == 0 and r[5] > 0 for r in got)
    assert got[0][6] == got[2][6] != got[1][6]  # alice twice, bob once: countable, not readable
    assert got[0][7] and got[2][7] is None  # a DM has no server
    dump = "\n".join(str(r) for r in rows(settings, "SELECT * FROM questions"))
    for raw in (world.alice.id, world.bob.id, world.guild.id):
        assert str(raw) not in dump
    cited = rows(settings, "SELECT article FROM citations")
    assert cited and cited[0][0] == "2025-03-19-us-russia-ceasefire.md"


async def test_one_vote_per_user_per_answer_a_changed_vote_replaces_it(world, settings):
    r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    assert {"👍", "👎"} <= set(labels(r.response))
    await world.alice.click(r.response, label="👍")
    await world.alice.click(r.response, label="👍")
    await world.bob.click(r.response, label="👍")
    await world.alice.click(r.response, label="👎")
    flush(world)
    votes = rows(settings, "SELECT user_hash, vote FROM votes ORDER BY vote")
    assert [v for _, v in votes] == [-1, 1] and votes[0][0] != votes[1][0]
    (answer_id,) = {a for (a,) in rows(settings, "SELECT answer_id FROM votes")}
    (question,) = rows(settings, "SELECT text FROM questions WHERE answer_id = ?", answer_id)
    assert question == (RUSSIA,)


@pytest.mark.simcord(settle_timeout=60)  # matplotlib's first import and font load
async def test_report_is_for_admins_only_and_attaches_the_chart(world, settings):
    for user, q in zip(
        [world.alice, world.bob] * 2, (RUSSIA, GAZA, "ガザ停戦の最新情報を教えて", MARS)
    ):
        await user.slash(world.ch, "ask", question=q)
    assert "report" not in world.alice.available_commands(world.ch)
    with pytest.raises(simcord.SetupError):  # hidden by default_permissions
        await world.alice.slash(world.ch, "report")
    r = await world.admin.slash(world.ch, "report", days=7)
    msg = r.response
    assert msg.ephemeral
    (embed,) = msg.embeds
    assert embed.image.url == "attachment://report.png"
    (attachment,) = msg.attachments
    assert attachment.filename == "report.png" and attachment.size > 10_000
    fields = {f.name: f.value for f in embed.fields}
    groups = fields["答えられなかった質問（多い順）"]
    assert groups.startswith("**2件**") and "「ガザ」「停戦」" in groups
    assert "質問 **4件**・回答 **25%**・利用者 2人" in embed.description
    assert "トランプとプーチン" in fields["よく引用された記事"]


async def test_report_refuses_members_granted_the_command_without_manage_server(world):
    world.guild.set_command_permissions(world.bot.command_ids["report"], {world.alice: True})
    r = await world.alice.slash(world.ch, "report")
    assert r.ephemeral and r.response.content == ADMIN_ONLY
    assert [type(e) for e in world.env.errors] == [app_commands.CheckFailure]


async def test_a_corrupted_database_is_moved_aside_and_the_bot_keeps_answering(
    settings, searcher, caplog
):
    data = settings.index.data_dir
    data.mkdir(parents=True, exist_ok=True)
    (data / "usage.db").write_bytes(b"this is not an SQLite database\n" * 100)
    caplog.set_level(logging.WARNING, logger="index.usage")
    env = simcord.Env(create_bot(settings=settings, searcher=searcher))
    await env.start()
    try:
        with env.time_context():
            world = make_world(env)
            r = await world.alice.slash(world.ch, "ask", question=RUSSIA)
            assert f"]({MAINICHI})" in r.response.embeds[0].description
            flush(world)
    finally:
        await env.shutdown()
    env.raise_errors()
    (aside,) = data.glob("usage.db.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not an SQLite database")
    assert any("damaged" in m and "moved to" in m for m in caplog.messages)
    assert rows(settings, "SELECT text FROM questions") == [(RUSSIA,)]
