"""Follow-up questions in Discord (DMs, replies, the bot's threads), /topics and /ask's filters,
on the real bot, the real index and simcord's offline Discord."""

from __future__ import annotations

import discord
import pytest

from bot.client import NewsBot, create_bot
from bot.threads import AnswerTurns
from bot.ui.format import continued_line, echo
from bot.ui.i18n import text
from index import Answer, Turn
from index.errors import QuestionError

from .discord_fixtures import MAINICHI, all_text, labels, settings_for

pytest_plugins = ["tests.discord_fixtures"]

AGREED = "米ロ首脳は何を攻撃しないことで合意した?"
HOW_LONG = "期間は?"
DEER = "奈良公園には鹿が何頭いる?"
CONTINUED = f"-# ↪ 「{AGREED}」の続き"
ASK_SUBJECT = "何についての質問か教えてください。"


def bot_messages(world, channel) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.id == world.bot.user.id]


def answered_follow_up(message: discord.Message, continued: str = CONTINUED) -> bool:
    """A follow-up's answer: the line naming what it continued, and an answer citing Mainichi."""
    return (message.content or "").endswith(continued) and f"]({MAINICHI})" in all_text(message)


def buttons(message: discord.Message) -> list[str]:
    """The labels of a message read from a channel's history (discord.py's components)."""
    return [c.label for row in message.components for c in row.children]


def dm_replies(user) -> list[discord.Message]:
    return [m for m in user.dm_channel.history() if m.author.bot]


# ------------------------------------------------------------------------------------------ DMs
async def test_dm_follow_up_continues_the_last_exchange_and_says_which(world):
    user = world.env.create_user("dmuser")
    await user.send_dm(AGREED)
    await user.send_dm(HOW_LONG)
    first, second = dm_replies(user)
    assert not first.content and "30日間" in first.embeds[0].description
    assert second.content == CONTINUED  # one small line; the quote shows the question itself
    assert answered_follow_up(second) and "30日間" in second.embeds[0].description
    assert buttons(second) == ["根拠", "他の結果", "👍", "👎"]  # no thread button in a DM


async def test_a_dm_reply_to_an_older_answer_continues_that_one(world):
    user = world.env.create_user("dmuser")
    await user.send_dm(AGREED)
    agreed = dm_replies(user)[-1]
    await user.send_dm(DEER)
    channel = user.dm_channel
    await user.send_dm(HOW_LONG, reference={"channel_id": channel.id, "message_id": agreed.id})
    assert answered_follow_up(dm_replies(user)[-1])


async def test_a_bare_follow_up_with_nothing_to_follow_asks_for_the_subject(world):
    user = world.env.create_user("dmuser")
    await user.send_dm(HOW_LONG)
    (reply,) = dm_replies(user)
    assert reply.content.startswith(ASK_SUBJECT) and "ロシアの停戦条件は?" in reply.content
    assert reply.embeds == [] and buttons(reply) == []


async def test_a_follow_up_after_the_window_starts_fresh(world):
    assert world.bot.conversations.window == 600  # [conversation] window_minutes = 10
    user = world.env.create_user("dmuser")
    await user.send_dm(AGREED)
    await world.env.advance_time(599)  # the loop's (virtual) clock: still within the window
    await user.send_dm(HOW_LONG)
    assert answered_follow_up(dm_replies(user)[-1])
    await world.env.advance_time(601)  # counted from the last turn
    await user.send_dm(HOW_LONG)
    assert dm_replies(user)[-1].content.startswith(ASK_SUBJECT)


# ------------------------------------------------------------------------- a server channel
async def test_a_second_user_in_the_channel_never_inherits_the_first_users_context(world):
    me = world.bot.user.mention
    await world.alice.send(world.ch, f"{me} {AGREED}")
    await world.bob.send(world.ch, f"{me} {HOW_LONG}")
    assert bot_messages(world, world.ch)[-1].content.startswith(ASK_SUBJECT)
    await world.alice.send(world.ch, f"{me} {HOW_LONG}")
    assert answered_follow_up(bot_messages(world, world.ch)[-1])
    # /ask keeps them apart too: bob's bare follow-up is asked for its subject, privately.
    r = await world.bob.slash(world.ch, "ask", question=HOW_LONG)
    assert r.ephemeral and r.response.content.startswith(f"{echo(HOW_LONG)}\n{ASK_SUBJECT}")
    assert r.response.embeds == []
    followed = await world.alice.slash(world.ch, "ask", question="なぜ?")
    assert not followed.ephemeral
    assert followed.response.content == f"**質問:** なぜ?\n-# ↪ 「{HOW_LONG}」の続き"


async def test_a_reply_to_an_answer_follows_up_on_that_answer_without_a_mention(world):
    me = world.bot.user.mention
    await world.alice.send(world.ch, f"{me} {AGREED}")
    agreed = bot_messages(world, world.ch)[-1]
    await world.alice.send(world.ch, f"{me} {DEER}")  # the channel's last turn is now the deer
    # A reply pings the bot (Discord's default): its text arrives without message_content.
    asked = await world.bob.send(world.ch, HOW_LONG, reply_to=agreed)
    reply = bot_messages(world, world.ch)[-1]
    assert reply.reference.message_id == asked.id and answered_follow_up(reply)
    # A plain message without a mention, reply or thread is still not for the bot.
    await world.bob.send(world.ch, HOW_LONG)
    assert bot_messages(world, world.ch)[-1].id == reply.id


async def test_a_reply_to_a_slash_answer_without_a_mention_is_told_to_mention_the_bot(world):
    r = await world.alice.slash(world.ch, "ask", question=AGREED)
    # Discord withholds the text of a reply to an interaction's message (no message_content).
    await world.alice.send(world.ch, HOW_LONG, reply_to=r.response)
    hint = bot_messages(world, world.ch)[-1]
    assert hint.content == text("ja", "reply.mention", me=world.bot.user.mention)
    await world.alice.send(world.ch, f"{world.bot.user.mention} {HOW_LONG}", reply_to=r.response)
    assert answered_follow_up(bot_messages(world, world.ch)[-1])


# ------------------------------------------------------------------------------------ threads
async def test_continue_in_thread_starts_a_thread_whose_questions_follow_up(world):
    me = world.bot.user.mention
    r = await world.alice.slash(world.ch, "ask", question=AGREED)
    opened = await world.alice.click(r.response, label="スレッドで続ける")
    (thread,) = world.ch.threads
    assert thread.id == r.response.id and thread.name == AGREED
    assert opened.ephemeral and opened.response.content == f"スレッドを作りました: <#{thread.id}>"
    (intro,) = thread.history()
    assert intro.content == text("ja", "thread.mention", me=me)
    await world.bob.send(thread, f"{me} {HOW_LONG}")  # anyone in the thread continues the answer
    reply = thread.history()[-1]
    assert answered_follow_up(reply) and "スレッドで続ける" not in buttons(reply)
    # Without message_content, a message without a mention is unreadable: the bot stays quiet.
    await world.alice.send(thread, "なぜ?")
    assert thread.history()[-1].author.id == world.alice.id
    again = await world.bob.click(r.response, label="スレッドで続ける")
    assert again.response.content == f"この回答のスレッドはこちら: <#{thread.id}>"
    assert len(world.ch.threads) == 1


class TestMessageContent:
    """[discord] message_content = true (the privileged intent, approved in the portal)."""

    @pytest.fixture
    def simcord_bot(self, options, tmp_path, searcher) -> NewsBot:
        settings = settings_for(options, tmp_path, message_content=True)
        return create_bot(settings=settings, searcher=searcher)

    @pytest.mark.simcord(approved_intents=discord.Intents.all())
    async def test_in_the_bots_thread_no_mention_is_needed(self, world):
        assert world.bot.intents.message_content
        r = await world.alice.slash(world.ch, "ask", question=AGREED)
        await world.alice.click(r.response, label="スレッドで続ける")
        (thread,) = world.ch.threads
        assert thread.history()[0].content == text("ja", "thread.intro")
        await world.alice.send(thread, HOW_LONG)
        assert answered_follow_up(thread.history()[-1])
        await world.alice.send(world.ch, HOW_LONG)  # in the channel a mention is still needed
        assert world.ch.history()[-1].author.id == world.alice.id


# ---------------------------------------------------------------------------------- restarts
def forget(bot: NewsBot) -> None:
    """What a restart loses: every conversation and every answer's turn (memory only)."""
    bot.conversations.clear()
    bot.answers.clear()


async def test_after_a_restart_a_reply_rebuilds_the_context_from_the_answered_message(world):
    me = world.bot.user.mention
    await world.alice.send(world.ch, f"{me} {AGREED}")
    await world.alice.send(world.ch, f"{me} {HOW_LONG}", reply_to=bot_messages(world, world.ch)[-1])
    follow_up = bot_messages(world, world.ch)[-1]
    forget(world.bot)
    # The answer quotes alice's message (asked again); its line names what that continued.
    await world.alice.send(world.ch, f"{me} なぜ?", reply_to=follow_up)
    reply = bot_messages(world, world.ch)[-1]
    assert answered_follow_up(reply, f"-# ↪ 「{HOW_LONG}」の続き")
    # An /ask answer echoes its question: that is enough to rebuild it.
    r = await world.bob.slash(world.ch, "ask", question=AGREED)
    forget(world.bot)
    await world.bob.send(world.ch, f"{me} {HOW_LONG}", reply_to=r.response)
    assert answered_follow_up(bot_messages(world, world.ch)[-1])


async def test_after_a_restart_an_answer_without_a_record_gets_a_fresh_start(world):
    """An answer the bot kept no record of (its data folder lost, or older than asked.ROWS)."""
    me = world.bot.user.mention
    asked = await world.alice.send(world.ch, f"{me} {AGREED}")
    answer = bot_messages(world, world.ch)[-1]
    await world.alice.delete(asked)  # nothing to read it back from either
    forget(world.bot)
    world.bot.answers.close()
    world.bot.answers = AnswerTurns()  # a restart without the data folder's record
    await world.alice.send(world.ch, f"{me} {HOW_LONG}", reply_to=answer)
    assert bot_messages(world, world.ch)[-1].content.startswith(ASK_SUBJECT)
    await world.alice.send(world.ch, f"{me} {DEER}", reply_to=answer)  # its own subject: answered
    assert "1,000頭" in bot_messages(world, world.ch)[-1].embeds[0].description


async def test_after_a_restart_a_reply_to_an_answer_whose_question_was_deleted_continues_it(world):
    me = world.bot.user.mention
    asked = await world.alice.send(world.ch, f"{me} {AGREED}")
    answer = bot_messages(world, world.ch)[-1]
    await world.alice.delete(asked)  # looked up by the answer's id, not read from messages
    forget(world.bot)
    await world.alice.send(world.ch, f"{me} {HOW_LONG}", reply_to=answer)
    assert answered_follow_up(bot_messages(world, world.ch)[-1])


async def test_after_a_restart_the_bots_thread_still_follows_its_answer(world):
    me = world.bot.user.mention
    r = await world.alice.slash(world.ch, "ask", question=AGREED)
    await world.alice.click(r.response, label="スレッドで続ける")
    (thread,) = world.ch.threads
    forget(world.bot)
    await world.alice.send(thread, f"{me} {HOW_LONG}")
    assert answered_follow_up(thread.history()[-1])


# ------------------------------------------------------------------------------------- /topics
async def test_topics_pages_through_the_articles_newest_first(world, searcher):
    r = await world.alice.slash(world.ch, "topics")
    assert r.ephemeral and labels(r.response) == ["◀ 前へ", "次へ ▶"]
    total = searcher.topic_count()
    (first,) = r.response.embeds
    assert first.footer.text == f"1 / 2 ページ · 全{total}件"
    newest = searcher.topics(1)[0]
    assert [f.name for f in first.fields] == [t.title for t in searcher.topics(5)]
    meta, sections = first.fields[0].value.replace("\u2060", "").split("\n")
    assert meta == f"{newest.outlet} · 2025年4月15日"
    assert sections.startswith("・".join(newest.sections[:2]))
    buttons = {c["label"]: c for row in r.response.components for c in row["components"]}
    assert buttons["◀ 前へ"].get("disabled") and not buttons["次へ ▶"].get("disabled")
    await world.alice.click(r.response, label="次へ ▶")
    second = r.response.embeds[0]
    assert [f.name for f in second.fields] == [t.title for t in searcher.topics(5, 5)]
    assert len(second.fields) == total - 5 and "トランプとプーチン" in second.fields[-1].name
    assert second.footer.text.startswith("2 / 2 ページ")
    await world.alice.click(r.response, label="◀ 前へ")
    assert r.response.embeds[0].fields == first.fields
    assert world.ch.history(viewer=world.bob) == []  # the list is the asker's own
    await world.env.advance_time(600)
    assert r.response.components == []


# -------------------------------------------------------------------------- /ask's filters
async def test_ask_narrows_by_outlet_and_dates(world):
    r = await world.alice.slash(world.ch, "ask", question="ロシアの停戦条件は?", outlet="毎日新聞")
    assert f"]({MAINICHI})" in r.response.embeds[0].description
    old = await world.alice.slash(
        world.ch, "ask", question="ロシアの停戦条件は?", until="2025-03-18"
    )
    assert old.ephemeral and labels(old.response) == []  # nothing that old: not covered
    assert MAINICHI not in all_text(old.response)
    deer = await world.alice.slash(world.ch, "ask", question=DEER, since="2025-04-01")
    assert "1,000頭" in deer.response.embeds[0].description


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"since": "2025-13-01"}, "since は YYYY-MM-DD の形で指定してください（'2025-13-01'）。"),
        ({"since": "2025-04-02", "until": "2025-04-01"}, "期間の指定が逆です"),
        (
            {"outlet": "朝日新聞"},
            "「朝日新聞」の記事は索引にありません。索引にある媒体: テスト新聞、",
        ),
    ],
)
async def test_bad_filters_get_a_polite_private_line(world, given, expected):
    r = await world.alice.slash(world.ch, "ask", question=DEER, **given)
    assert r.ephemeral and r.response.content.startswith(expected)
    assert "\n" not in r.response.content and r.response.embeds == []
    (error,) = world.env.errors
    assert isinstance(error.original, QuestionError)


async def test_outlet_autocomplete_offers_the_indexed_outlets(world, searcher):
    every = await world.alice.autocomplete(world.ch, "ask", "outlet", "")
    assert [c["value"] for c in every] == searcher.outlets()
    assert every[0]["value"] == "テスト新聞"  # the most articles first
    some = await world.alice.autocomplete(world.ch, "ask", "outlet", "ｔｂｓ")  # full-width
    assert [c["name"] for c in some] == ["TBS NEWS DIG"]
    romaji = await world.alice.autocomplete(world.ch, "ask", "outlet", "mainichi")
    assert [c["value"] for c in romaji] == ["毎日新聞"]


async def test_ask_takes_an_outlet_as_typed(world):
    """毎日 is 毎日新聞: the seed's answer cites only its 毎日新聞 link."""
    r = await world.alice.slash(world.ch, "ask", question="ロシアの停戦条件は?", outlet="毎日")
    text = r.response.embeds[0].description
    assert f"]({MAINICHI})" in text and "newsdig.tbs.co.jp" not in all_text(r.response)


# ---------------------------------------------------------------------- the pieces, directly
def test_answer_turns_are_bounded_oldest_first(searcher):
    turns = AnswerTurns(limit=2)
    turn = Turn(DEER, searcher.ask(DEER), 0.0)
    for message_id in (1, 2):
        turns.remember(message_id, turn)
    assert turns.get(1) is turn  # used: now the newest
    turns.remember(3, turn)
    assert (turns.get(1), turns.get(2), len(turns)) == (turn, None, 2)


def test_the_continued_line_is_escaped_and_clipped_for_reading_only():
    answer = Answer("期間は*?*", "", False, (), continued=f"@everyone {HOW_LONG} https://x.jp")
    assert continued_line(answer) == f"-# ↪ 「@\u200beveryone {HOW_LONG} <https://x.jp>」の続き"


def test_what_an_answer_answered_is_kept_by_hashed_message_id_across_a_restart(tmp_path):
    """asked.py: a new AnswerTurns over the same folder (a restart) finds the whole question,
    never read back from the rendered (escaped, clipped) line."""
    answer = Answer("期間は?", "", False, (), continued="長い質問" * 200)
    assert len(continued_line(answer)) < len(answer.continued)  # clipped when shown
    turns = AnswerTurns(folder=tmp_path)
    turns.remember(1234567890123456789, Turn("期間は?", answer, 0.0))
    turns.close()
    again = AnswerTurns(folder=tmp_path)
    assert again.get(1234567890123456789) is None  # the turn itself was in memory
    assert again.question_of(1234567890123456789) == ("期間は?", answer.continued)
    assert again.question_of(42) is None
    again.close()
    db = (tmp_path / "asked.db").read_bytes()
    assert b"1234567890123456789" not in db  # the id only as a keyed hash
    for name in ("asked.db", "asked.key"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name


# --------------------------------------------------- a new subject, and after a refusal (#33)
RUSSIA = "ロシアの停戦条件は?"


async def test_a_question_with_its_own_subject_right_after_russia_is_not_a_follow_up(world):
    """「今日の占いは?」 names a subject of its own (占い) the Russia answer never held: it is
    asked afresh, and the coverage has nothing on it."""
    me = world.bot.user.mention
    await world.alice.send(world.ch, f"{me} {RUSSIA}")
    assert "停戦" in all_text(bot_messages(world, world.ch)[-1])
    await world.alice.send(world.ch, f"{me} 今日の占いは?")
    reply = bot_messages(world, world.ch)[-1]
    assert "続き" not in (reply.content or "")  # not answered as a follow-up
    assert reply.embeds[0].description.startswith("「占い」についての記事はありません。")
    assert buttons(reply) == []  # a refusal: nothing to vote on


async def test_a_dm_follow_up_after_a_refusal_leans_on_the_last_answer(world):
    """なぜ? after a refused question continues the last answered turn, not the refusal."""
    user = world.env.create_user("dmuser")
    await user.send_dm(AGREED)
    await user.send_dm("おすすめのパスタのレシピは?")
    refused = dm_replies(user)[-1]
    assert not buttons(refused) and "パスタ" not in (refused.content or "")
    await user.send_dm(HOW_LONG)
    reply = dm_replies(user)[-1]
    assert reply.content == CONTINUED  # it continues the answered question, named
    assert answered_follow_up(reply) and "30日間" in reply.embeds[0].description
