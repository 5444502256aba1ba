"""The report's grouping of unanswered questions: by meaning across languages with the real
encoder, subjectless follow-ups apart, and mentions never reaching a report as raw ids."""

from __future__ import annotations

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mentions import MENTION, clean
from index.usage.grouping import group_questions


def grouped(texts: list[str], encode=None) -> list[set[str]]:
    rows = [(t, f"u{i}", "other_news") for i, t in enumerate(texts)]
    groups, _ = group_questions(rows, encode)
    return [set(g.questions) for g in groups]


def test_the_same_subject_in_two_languages_or_two_names_is_one_group(embedder):
    texts = [
        "ガザの停戦は?",
        "Gaza ceasefire?",
        "日銀の利上げは?",
        "日本銀行の利上げは?",
        "能登の地震の被害は?",
        "能登半島地震の復旧は?",
        "ウクライナの停戦は?",
        "石破首相の発言は?",
        "高市首相の発言は?",
        "今日の占いは?",
    ]
    groups = grouped(texts, embedder.encode_queries)
    assert {"ガザの停戦は?", "Gaza ceasefire?"} in groups
    assert {"日銀の利上げは?", "日本銀行の利上げは?"} in groups
    assert {"能登の地震の被害は?", "能登半島地震の復旧は?"} in groups
    # Alike in shape, not in subject: apart.
    for alone in ("ウクライナの停戦は?", "石破首相の発言は?", "高市首相の発言は?", "今日の占いは?"):
        assert {alone} in groups


def test_questions_without_a_subject_are_counted_apart_not_offered_as_coverage():
    rows = [(t, "u", "no_subject") for t in ("なぜ?", "期間は?", "それはいつ?", "なぜ?")]
    rows.append(("火星の今日の天気は?", "u", "other_news"))
    groups, no_subject = group_questions(rows)
    assert no_subject == 4
    assert [g.questions for g in groups] == [["火星の今日の天気は?"]]


def test_many_distinct_questions_group_without_comparing_every_pair():
    # 3,000 wordings over 30 subjects: each question meets only its neighbours (no encoder here:
    # the word blocks alone), and every wording still finds its subject's group.
    subjects = [f"話題{chr(0x30A2 + n)}{chr(0x30A2 + n)}" for n in range(30)]
    texts = [f"{s}の件{i}について教えて" for i in range(100) for s in subjects]
    groups = grouped(texts)
    assert len(groups) <= 60
    assert sum(len(g) for g in groups) <= len(texts)


class Resolved:
    """A message's resolved mentions as discord.py gives them (members, channels, roles)."""

    def __init__(self, mentions=(), channels=(), roles=()):
        self.mentions, self.channel_mentions, self.role_mentions = mentions, channels, roles
        self.guild = None


class Named:
    def __init__(self, id_: int, name: str):
        self.id, self.name, self.display_name = id_, name, name


def test_mentions_become_names_and_the_bots_own_goes():
    bob, chat = Named(42_000_000_000_000_001, "bob"), Named(7_000_000_000_000_002, "雑談")
    message = Resolved([bob], [chat])
    text = (
        "<@99000000000000000> <@!42000000000000001> が <#7000000000000002> で "
        "<@&5000000000000003> と言ってた"
    )
    assert clean(text, me=99_000_000_000_000_000, message=message) == "bob が 雑談 で と言ってた"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.builds(
                lambda kind, n: f"<{kind}{n}>",
                st.sampled_from(["@", "@!", "#", "@&"]),
                st.integers(10**16, 10**20),
            ),
        ),
        max_size=8,
    )
)
def test_no_mention_survives_cleaning_whatever_surrounds_it(pieces):
    text = "".join(pieces)
    out = clean(text, message=Resolved())
    assert not MENTION.search(out)
    if not MENTION.search(text):
        assert out == text  # text without a mention is asked exactly as written


def test_a_discord_escape_does_not_hide_a_mention():
    # What discord.utils.escape_mentions would leave is not what a report shows: ids are gone.
    assert "<@" not in clean("<@123456789012345678> <@123456789012345678>", message=Resolved())
    assert discord.utils.escape_mentions("@everyone") != "@everyone"
