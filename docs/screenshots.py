"""Screenshots of the real bot's main replies, as a member sees them in simcord's preview.

Needs `pip install -e '.[docs]'` (simcord[preview]) and Debian's `chromium` and
`fonts-noto-cjk`. Run from the project folder: `.venv/bin/python docs/screenshots.py`.
It builds a throwaway index of `articles/` (plus two test articles for /reindex), drives the
real bot through simcord, and writes `docs/<name>-phone.png` (420 px) and
`docs/<name>-desktop.png` (1200 px), cropped to the conversation, then prints each reply's
height and text length (the answer must fit one phone screen: ≤ 900 px, ≤ 1,200 characters).
Names given as arguments (`docs/screenshots.py followup topics`) are the only ones written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import discord
from PIL import Image, ImageStat
from simcord import Env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import create_bot  # noqa: E402
from bot.settings import DiscordSettings, Settings, load_settings  # noqa: E402
from index import Searcher  # noqa: E402
from index.usage import (  # noqa: E402
    QuestionRecord,
    UsageStore,
    VoteRecord,
    keyed_hash,
    load_key,
)

DOCS = ROOT / "docs"
WIDTHS = {"phone": 420, "desktop": 1200}
TALL = 2400  # a window taller than any reply; the picture is cropped to what is drawn
GATE = 600.0
# Two weeks of use data behind /report: what a server asks that the coverage lacks.
UNANSWERED = (
    ("ガザの停戦は?", 9),
    ("ガザ停戦の最新情報を教えて", 5),
    ("ガザで停戦交渉はどうなった?", 4),
    ("Gaza ceasefire?", 3),
    ("日銀の利上げはいつ?", 6),
    ("日本銀行は次にいつ利上げする?", 3),
    ("大谷翔平の今季の成績は?", 5),
    ("能登半島地震の復旧は?", 3),
    ("今日の占いは?", 2),
    ("新しい円の紙幣はいつから?", 2),
    ("なぜ?", 3),
    ("期間は?", 2),
)
ANSWERED = ("ロシアの停戦条件は?", "米ロ首脳会談で何が合意された?", "プーチン大統領は何を譲歩した?")
CEASEFIRE = (
    "2025-03-19-us-russia-ceasefire.md",
    "トランプとプーチン、ウクライナ戦争終結へ?米ロ首脳会談と停戦交渉の行方",
)


def seed_usage(data_dir: Path, guild_id: int, days: int = 28) -> None:
    """Questions over the last `days` days (answered and not) with a few votes, for /report
    (the server's: its keyed hash, as the bot stores it)."""
    rng = random.Random(27)
    guild = keyed_hash(load_key(data_dir), "guild", guild_id)
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    rows, votes, n = [], [], 0
    unanswered = [q for q, times in UNANSWERED for _ in range(times)]
    rng.shuffle(unanswered)
    for day in range(days):
        when = today - dt.timedelta(days=days - 1 - day)
        for _ in range(rng.randint(6, 22) if when.weekday() < 5 else rng.randint(1, 6)):
            n += 1
            user = f"user{rng.randint(1, 40)}"
            # The period before the report's 14 days: fewer questions, answered as often.
            if day < days - 14 and rng.random() < 0.5:
                continue
            if unanswered and day >= days - 14 and rng.random() < 0.4:
                q = unanswered.pop()
                reason = "off_topic" if q == "今日の占いは?" else "other_news"
                reason = "no_subject" if q in ("なぜ?", "期間は?") else reason
                rows.append(
                    QuestionRecord(
                        f"s{n}",
                        when,
                        q,
                        "channel",
                        False,
                        reason,
                        latency_ms=rng.uniform(40, 900),
                        user_hash=user,
                        guild_hash=guild,
                        is_dm=False,
                    )
                )
                continue
            q = rng.choice(ANSWERED)
            rows.append(
                QuestionRecord(
                    f"s{n}",
                    when,
                    q,
                    "channel",
                    True,
                    answer="…[1]",
                    latency_ms=rng.uniform(30, 900),
                    user_hash=user,
                    cited=(CEASEFIRE,),
                    guild_hash=guild,
                    is_dm=False,
                )
            )
            if q == ANSWERED[2] and rng.random() < 0.3:
                votes.append(VoteRecord(f"s{n}", user, -1, when))
    store = UsageStore(data_dir)
    try:
        store.write(rows, votes)
    finally:
        store.close()


def text_of(message) -> str:
    """The characters a reader sees in a message (Markdown link targets not counted)."""
    parts = [message.content or ""]
    for e in message.embeds:
        parts += [e.title or "", e.description or "", e.footer.text or ""]
        parts += [f"{f.name}\n{f.value}" for f in e.fields]
    shown = re.sub(r"\]\([^)]*\)", "]", "\n".join(parts)).replace("\u2060", "")
    return shown.replace("[[", "[").replace("]]", "]")


def crop(path: Path) -> int:
    """Crop the page to the conversation: below the preview's toolbar, right of its sidebar (on
    a wide page), down to the last drawn row (a row of one flat colour is empty); return the
    height left."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    background = image.getpixel((w - 3, h - 3))
    top = next((y for y in range(h) if image.getpixel((w - 3, y)) == background), 0)
    left = next((x for x in range(w) if image.getpixel((x, h - 20)) == background), 0)
    left = left if left > w // 5 else 0  # a narrow page has no sidebar, only the avatar rail
    drawn = [
        y for y in range(top, h) if ImageStat.Stat(image.crop((left, y, w, y + 1))).stddev[0] > 2
    ]
    bottom = min(h, (drawn[-1] if drawn else top) + 16)
    image.crop((left, top, w, bottom)).save(path, optimize=True)
    return bottom - top


async def shoot(env, channel, viewer, target, name: str, sizes=("phone", "desktop")) -> dict:
    heights = {}
    for size in sizes:
        width = WIDTHS[size]
        async with env.preview(
            channel,
            viewers=[viewer],
            layout="message",
            display="fixed",
            width=width,
            height=TALL,
            locale="ja",
            timezone="Asia/Tokyo",
        ) as p:
            await p.show(target)
            path = DOCS / f"{name}-{size}.png"
            proc = await asyncio.create_subprocess_exec(
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={width},{TALL}",
                "--virtual-time-budget=8000",
                f"--screenshot={path}",
                p.url,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await proc.wait()
            heights[size] = crop(path)
    return heights


async def main(only: set[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="newsbot-shots-"))
    articles = work / "articles"
    shutil.copytree(ROOT / "articles", articles)
    base = load_settings()
    index = dataclasses.replace(base.index, articles_dir=articles, data_dir=work / "data")
    settings = Settings(index=index, discord=DiscordSettings())
    searcher = Searcher.open(index)  # before the bot starts: the model loads outside simcord
    bot = create_bot(settings=settings, searcher=searcher)
    env = Env(bot, settle_timeout=120)
    await env.start()
    report = []
    try:
        guild = env.create_guild("ニュース")
        ch = guild.create_text_channel("質問")
        mods = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
        alice = guild.add_member(env.create_user("alice"))
        admin = guild.add_member(env.create_user("admin"), roles=[mods])

        async def snap(name, target, channel=ch, viewer=alice) -> None:
            if only and name not in only:
                return
            chars = len(text_of(getattr(target, "response", target)))  # as it is now
            report.append((name, chars, await shoot(env, channel, viewer, target, name)))

        answer = await alice.slash(ch, "ask", question="ロシアの停戦条件は?")
        await snap("answer", answer)
        await snap("evidence", await alice.click(answer.response, label="根拠"))
        await snap("more", await alice.click(answer.response, label="他の結果"))
        await snap("offtopic", await alice.slash(ch, "ask", question="明日の東京の天気は?"))
        await snap("english", await alice.slash(ch, "ask", question="What did Putin concede?"))
        # A follow-up: a reply to an answer continues it, and says which question it continued.
        await env.advance_time(30)  # past alice's per-user limit (3 questions in 30 s)
        # An outlet the index does not hold: the outlets it does, to choose from.
        await snap(
            "outlet", await alice.slash(ch, "ask", question="ロシアの停戦条件は?", outlet="朝日")
        )
        await alice.send(ch, f"{bot.user.mention} 米ロ首脳は何を攻撃しないことで合意した?")
        await alice.send(ch, "期間は?", reply_to=ch.history()[-1])
        await snap("followup", ch.history()[-1])

        bob = env.create_user("bob")
        await bob.send_dm("プーチン大統領は何を譲歩した?")
        await snap("dm", bob.dm_channel.history()[-1], bob.dm_channel, bob)
        await bob.send_dm("ヘルプ")
        await snap("help", bob.dm_channel.history()[-1], bob.dm_channel, bob)

        # /reindex after new articles and a broken file arrive; parked to show its progress.
        shutil.copy(ROOT / "tests" / "data" / "articles" / "shogi-titles.md", articles)
        shutil.copy(ROOT / "tests" / "data" / "encyclopedia" / "dominica.md", articles)
        (articles / "memo.md").write_text("メモ: あとで記事にする\n", encoding="utf-8")
        real = bot.reindex

        async def parked(*, rebuild=False, progress=None):
            progress("embed", 12, 40)  # what the admin sees while the build runs
            await asyncio.sleep(GATE)
            return await real(rebuild=rebuild, progress=progress)

        bot.reindex = parked
        build = await admin.slash(ch, "reindex")
        await snap("reindex-progress", build, viewer=admin)
        await env.advance_time(GATE)
        await snap("reindex-summary", build, viewer=admin)
        # An article whose title names a thing: the answer names it when its sentence does not.
        subject = await alice.slash(ch, "ask", question="カリブ海の植物園と呼ばれる国は?")
        await snap("subject", subject)
        # /topics over more articles (the test corpus joins): the first of its pages.
        for path in sorted((ROOT / "tests" / "data" / "articles").glob("*.md")):
            shutil.copy(path, articles)
        await asyncio.to_thread(searcher.reindex)
        await snap("topics", await alice.slash(ch, "topics"))
        # /report over two weeks of use data (seeded, plus the questions asked above).
        seed_usage(index.data_dir, guild.id)
        await snap("report", await admin.slash(ch, "report", days=14), viewer=admin)
        # /forget-me: the question first (nothing erased yet), then what was erased.
        forget = await alice.slash(ch, "forget-me")
        await snap("forget-ask", forget)
        await snap("forget-done", await alice.click(forget.response, label="削除する"))
    finally:
        await env.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    for name, chars, heights in report:
        sizes = ", ".join(f"{k} {v} px" for k, v in heights.items())
        print(f"{name:17} {chars:5} chars  {sizes}")


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
