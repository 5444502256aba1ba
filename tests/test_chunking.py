"""Loading and chunking real Markdown: headings, no heading, glued URLs, long sections."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.corpus.chunker import chunk_article, split_text
from index.corpus.loader import load_article, load_articles
from index.corpus.text import find_urls, normalize, sentence_spans, split_sentences

from .conftest import DATA, ROOT, SEED_ARTICLE

MAINICHI = "https://mainichi.jp/articles/20250319/k00/00m/030/319000c"
TBS = "https://newsdig.tbs.co.jp/articles/-/1729431"
FNN = "https://www.fnn.jp/articles/-/844910"
SEED_SECTIONS = {
    "プーチンの譲歩とトランプ政権の対応": MAINICHI,
    "ウクライナにとって厳しい現実": TBS,
    "停戦交渉の進展と今後の展望": FNN,
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_article_keeps_every_sentence_and_link():
    """Every sentence of the original seed text is in the article, links split off exactly."""
    seed = (DATA / "seed.txt").read_text(encoding="utf-8")
    article = load_article(SEED_ARTICLE, SEED_ARTICLE.parent)
    body = "\n".join(f"{s.heading}\n{s.text}" for s in article.sections)
    sentences = [s for line in seed.splitlines()[1:] for s in split_sentences(URL_FREE(line))]
    # The article file keeps every sentence of the seed, word for word.
    raw = SEED_ARTICLE.read_text(encoding="utf-8")
    assert len(sentences) > 60 and not [s for s in sentences if s not in raw]
    # Its passages keep every one too, but page furniture: list marks (✅ 💡) are dropped, and
    # the date and "read more / source" lines (their links stay the sections' sources).
    missing = [s for s in sentences if s.lstrip("✅💡 ") not in body]
    assert missing == [
        "公開日:2025/03/19",
        "さらに読む ⇒ニュースサイト出典/画像元:",
        "さらに読む ⇒出典/画像元:",
        "公開日:2025/03/19",
        "さらに読む ⇒プライムオンライン|フジテレビ系局のニュースサイト出典/画像元:",
    ]
    assert [s.heading for s in article.sections][1:] == list(SEED_SECTIONS)
    assert article.title == seed.splitlines()[0]
    assert article.published == "2025-03-19"


def URL_FREE(line: str) -> str:  # noqa: N802 - reads like a constant transform in the test
    for url in find_urls(line):
        line = line.replace(url, "\n")
    return line


def test_seed_sections_cite_their_exact_links():
    article = load_article(SEED_ARTICLE, SEED_ARTICLE.parent)
    passages = chunk_article(article)
    by_section = {p.section: p.sources for p in passages}
    for heading, url in SEED_SECTIONS.items():
        assert by_section[heading] == (url,)
    # The lede has no link of its own, so it cites every link of the article.
    assert by_section[""] == (MAINICHI, TBS, FNN)


def test_glued_url_stops_at_first_non_ascii_character():
    text = "出典/画像元: https://mainichi.jp/articles/20250319/k00/00m/030/319000cロシアは停戦を"
    assert find_urls(text) == [MAINICHI]


def test_headings_make_section_paths(tmp_path):
    path = write(
        tmp_path,
        "a.md",
        "---\ntitle: T\nurl: https://e.x/a\n---\n\n前文。\n\n# T\n\n"
        "## 一章\n\n本文一。\n\n### 細目\n\n本文二。[出典](https://src.example/x)\n\n"
        "## 二章\n\n本文三。\n",
    )
    article = load_article(path, tmp_path)
    assert [s.heading for s in article.sections if s.text] == ["", "一章", "一章 > 細目", "二章"]
    passages = {p.section: p for p in chunk_article(article)}
    assert passages["一章 > 細目"].sources == ("https://src.example/x",)
    assert passages["一章 > 細目"].text == "本文二。出典"
    assert passages["二章"].sources == ("https://e.x/a",)


def test_article_without_headings_is_one_section(tmp_path):
    path = write(
        tmp_path,
        "b.md",
        "---\ntitle: 見出しなし\npublished: 2025-01-02\noutlet: 新聞\n---\n一文目。二文目。\n",
    )
    (p,) = chunk_article(load_article(path, tmp_path))
    assert (p.section, p.text, p.published, p.outlet) == (
        "",
        "一文目。二文目。",
        "2025-01-02",
        "新聞",
    )


def test_empty_sections_make_no_passages(tmp_path):
    path = write(tmp_path, "c.md", "---\ntitle: T\n---\n## 空\n\n## 中身\n\n文。\n")
    assert [p.section for p in chunk_article(load_article(path, tmp_path))] == ["中身"]


@pytest.mark.parametrize("limit", [120, 400])
def test_long_section_splits_at_sentence_boundaries(limit):
    article = load_article(DATA / "articles" / "tokyo-subway.md", DATA / "articles")
    long = max(article.sections, key=lambda s: len(s.text))
    pieces = split_text(long.text, limit)
    assert len(pieces) >= len(long.text) // limit
    assert all(len(p) <= limit for p in pieces)
    # Nothing lost, nothing invented, and every piece ends where a sentence ends.
    assert "".join(pieces).replace("\n", "") == long.text.replace("\n", "")
    assert all(p.endswith(("。", "！", "？", "!", "?", "」")) for p in pieces)


def test_sentence_split_handles_fullwidth_and_ascii_marks():
    assert split_sentences("停戦か？ はい！ 本当だ。Yes. No?") == [
        "停戦か？",
        "はい！",
        "本当だ。",
        "Yes.",
        "No?",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A quote and its speaker are one sentence: the quote alone would read as our claim.
        (
            "彼は「停戦は必要だ。」と述べた。次の話題。",
            ["彼は「停戦は必要だ。」と述べた。", "次の話題。"],
        ),
        ("『熱ラジ!』を放送した。", ["『熱ラジ!』を放送した。"]),
        ("「恥を知れ！（Shame!）」といった。", ["「恥を知れ！（Shame!）」といった。"]),
        # A quotation that ends a sentence still ends it; a headline's "!" still ends one.
        ("「良かった。」次の文。", ["「良かった。」", "次の文。"]),
        ("制裁を警告!戦争終結へ。", ["制裁を警告!", "戦争終結へ。"]),
        # A stray bracket protects nothing; a line break always ends a sentence.
        ("括弧（閉じない。次の文。", ["括弧（閉じない。", "次の文。"]),
        ("「改行\n中」です。", ["「改行", "中」です。"]),
    ],
)
def test_sentences_do_not_end_inside_a_quotation(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Abbreviations, initials and decimals do not end an English sentence (issue 33).
        (
            "Then Sen. Smith said the deal was close. Talks resume at 6 p.m. on Friday.",
            ["Then Sen. Smith said the deal was close.", "Talks resume at 6 p.m. on Friday."],
        ),
        (
            "The U.S. economy grew 2.5 percent. Dr. Jones agreed.",
            ["The U.S. economy grew 2.5 percent.", "Dr. Jones agreed."],
        ),
        ("Mr. Putin spoke. Gov. Newsom did not.", ["Mr. Putin spoke.", "Gov. Newsom did not."]),
        # A line break still ends one; a Japanese line keeps its own rule.
        ("No deal yet\n停戦は近い。U.S. 側は", ["No deal yet", "停戦は近い。", "U.S.", "側は"]),
    ],
)
def test_english_sentences_do_not_end_at_abbreviations(text, expected):
    assert split_sentences(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abDrUSpm25 .?!。「」\n停戦", max_size=80))
def test_sentence_spans_lose_no_text(text):
    """Every non-space character lands in exactly one sentence, in order, trimmed."""
    spans = sentence_spans(text)
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:]))
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)
    kept = "".join(text[a:b] for a, b in spans)
    assert "".join(kept.split()) == "".join(text.split())


def test_normalize_folds_width_and_invisible_characters():
    assert (
        normalize("ロシアの停戦条件は？\u200b ｶﾀｶﾅ　ＡＢＣ") == "ロシアの停戦条件は? カタカナ abc"
    )


def test_shipped_articles_all_load():
    articles, skipped = load_articles(ROOT / "articles")
    assert skipped == [] and len(articles) >= 1
