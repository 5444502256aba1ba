"""Use data and people, on the real bot in simcord: reports stay in their server, DMs reach
only owners, /forget-me erases exactly one member, and a mention leaves no raw id anywhere."""

from __future__ import annotations

import logging
import sqlite3

import discord
import pytest

from .discord_fixtures import RUSSIA, all_text, labels

pytest_plugins = ["tests.discord_fixtures"]
SECRET_A = "うちの会社の山田部長の不倫の件は?"
SECRET_DM = "私の病気(糖尿病)の治療費の助成は?"
MARS_B = "火星の今日の天気は?"


def rows(settings, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(settings.index.data_dir / "usage.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def flush(world) -> None:
    assert world.bot.usage.writer.flush(30)


def second_server(world):
    """Server B, with its own manager."""
    guild = world.env.create_guild("別サーバー")
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    channel = guild.create_text_channel("general")
    admin = guild.add_member(world.env.create_user("admin-b"), roles=[mods])
    return channel, admin


@pytest.mark.simcord(settle_timeout=120)  # matplotlib's first import, the encoder's grouping
async def test_a_server_admin_sees_only_their_server_and_an_owner_in_a_dm_sees_the_dms(world):
    channel_b, admin_b = second_server(world)
    owner = world.env.create_user("owner")
    world.bot.owner_ids = {owner.id}  # discord.py's own owner list (is_owner)
    await world.alice.slash(world.ch, "ask", question=SECRET_A)
    await world.alice.send_dm(SECRET_DM)
    await admin_b.slash(channel_b, "ask", question=MARS_B)
    flush(world)

    seen_b = all_text((await admin_b.slash(channel_b, "report", days=7)).response)
    assert MARS_B in seen_b and "質問 **1件**" in seen_b
    assert SECRET_A not in seen_b and SECRET_DM not in seen_b and "山田" not in seen_b

    seen_a = all_text((await world.admin.slash(world.ch, "report", days=7)).response)
    assert "山田部長" in seen_a and "糖尿病" not in seen_a and "火星" not in seen_a

    await owner.send_dm("こんにちは")  # opens the owner's DM with the bot
    seen_dm = all_text((await owner.slash("report", days=7)).response)
    assert "糖尿病" in seen_dm and "山田" not in seen_dm and "火星" not in seen_dm


@pytest.mark.simcord(settle_timeout=60)
async def test_forget_me_asks_first_then_deletes_exactly_the_members_rows(world, settings):
    mine = await world.alice.slash(world.ch, "ask", question=RUSSIA)
    theirs = await world.bob.slash(world.ch, "ask", question=RUSSIA)
    await world.alice.send_dm("ガザの停戦は?")
    await world.alice.click(theirs.response, label="👍")  # alice's vote on bob's answer
    await world.bob.click(theirs.response, label="👍")
    await world.bob.click(mine.response, label="👎")  # bob's vote on alice's answer
    flush(world)
    before = rows(settings, "SELECT user_hash FROM questions")
    assert len(before) == 3

    r = await world.alice.slash(world.ch, "forget-me")
    assert r.response.ephemeral and labels(r.response) == ["削除する", "やめる"]
    assert len(rows(settings, "SELECT 1 FROM questions")) == 3  # nothing yet: it asks first
    done = await world.alice.click(r.response, label="削除する")
    text = all_text(done.response)
    assert "質問 2件と評価 1件の記録を削除しました" in text
    (bob,) = {u for (u,) in rows(settings, "SELECT user_hash FROM questions")}
    assert bob == rows(settings, "SELECT user_hash FROM votes")[0][0]
    # Bob's question and his vote on it stay; alice's questions go with the votes on them.
    assert rows(settings, "SELECT count(*) FROM questions")[0][0] == 1
    assert rows(settings, "SELECT count(*) FROM votes")[0][0] == 1


async def test_forget_me_can_be_cancelled(world, settings):
    await world.alice.slash(world.ch, "ask", question=RUSSIA)
    r = await world.alice.slash(world.ch, "forget-me")
    done = await world.alice.click(r.response, label="やめる")
    assert "削除しませんでした" in all_text(done.response)
    flush(world)
    assert rows(settings, "SELECT count(*) FROM questions")[0][0] == 1


async def test_a_mention_of_a_member_is_answered_as_without_it_and_no_raw_id_is_kept(
    world, settings, searcher, caplog
):
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="index")
    me = world.bot.user
    question = f"{me.mention} {world.bob.mention} が言ってたロシアの停戦条件は?"
    await world.alice.send(world.ch, question)
    (reply,) = [m for m in world.ch.history() if m.author.id == me.id]
    plain = searcher.ask("bob が言ってたロシアの停戦条件は?")
    assert not plain.no_answer
    assert plain.text.split("[")[0] in all_text(reply)  # the same answer as without the mention
    flush(world)
    stored = "\n".join(map(str, sqlite3.connect(settings.index.data_dir / "usage.db").iterdump()))
    assert "bob が言ってたロシアの停戦条件は?" in stored
    raw = str(world.bob.id)
    assert raw not in stored
    assert raw not in all_text(reply)
    assert raw not in caplog.text
    assert str(world.alice.id) not in stored and str(world.alice.id) not in caplog.text
