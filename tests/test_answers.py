"""Answers users can trust: verbatim cited sentences, paraphrases found, off-topic refused."""

from __future__ import annotations

import dataclasses
import re
import shutil
import unicodedata

import pytest

from bot.ui.wording import REFUSALS, refusal_text
from index import IndexOptions, Reason, Searcher
from index.answer import judge as coverage
from index.answer.compose import (
    CONNECTIVE,
    Asked,
    Candidate,
    Weights,
    answer_cue,
    compose,
    quotable,
    subject,
)
from index.corpus.text import normalize, split_sentences
from index.retrieval import crosslingual
from index.retrieval import terms as term_rules
from index.types import Hit

from .conftest import DATA, SEED_ARTICLE, make_options, read_jsonl

# Regression bars a little under what is measured (docs/how-it-works.md); the key-fact and English
# targets of issue 9 are not met: e5-small's cross-lingual sentence cosines are nearly flat.
KEYFACTS_BAR = 0.94
EN_KEYFACTS = 0.85
EN_UNSEEN = 0.80
EN_OTHERNEWS = 0.90
ONTOPIC_BAR = 0.90
CITED = re.compile(r"(.+?)\[(\d+)\]\s*")


def cited_sentences(answer) -> list[tuple[str, int]]:
    """Split 'S1[1] S2[2]' into (sentence, citation number) pairs, checking nothing is left."""
    pairs = [(m.group(1).strip(), int(m.group(2))) for m in CITED.finditer(answer.text)]
    assert "".join(f"{s}[{n}]" for s, n in pairs) == answer.text.replace("] ", "]")
    return pairs


OFFTOPIC = read_jsonl("offtopic.jsonl")
PARAPHRASE = read_jsonl("paraphrase.jsonl")
# Written for issues 9 and 14, half marked "tune" (thresholds were set on those) and half
# "holdout"; the bars below hold on both halves.
KEYFACTS = read_jsonl("keyfacts.jsonl")
ONTOPIC = read_jsonl("ontopic.jsonl")
OTHERNEWS = read_jsonl("othernews.jsonl")
CONDITIONS = "軍事援助と機密情報の提供を完全に停止"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def carries(answer, facts: list[str]) -> bool:
    return not answer.no_answer and any(
        squash(f) in squash(" ".join(answer.sentences)) for f in facts
    )


def share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


@pytest.fixture(scope="module")
def keyfact_answers(shipped):
    return shipped.batch_ask([q["question"] for q in KEYFACTS])


def test_answers_carry_the_key_fact(keyfact_answers):
    """The short answer itself states the fact asked for (not only the passages below it)."""
    ok = [carries(a, q["facts"]) for q, a in zip(KEYFACTS, keyfact_answers)]
    missed = [q["question"] for q, hit in zip(KEYFACTS, ok) if not hit]
    assert share(ok) >= KEYFACTS_BAR, f"missed: {missed}"
    english = [hit for q, hit in zip(KEYFACTS, ok) if q["lang"] == "en"]
    assert share(english) >= EN_KEYFACTS, f"missed: {missed}"


def test_unseen_english_questions_carry_the_key_fact(shipped):
    """Written after the glossary and the idf weights were settled (10 of 12 carry the fact)."""
    unseen = read_jsonl("keyfacts_unseen_en.jsonl")
    answers = shipped.batch_ask([q["question"] for q in unseen])
    ok = [carries(a, q["facts"]) for q, a in zip(unseen, answers)]
    missed = [q["question"] for q, hit in zip(unseen, ok) if not hit]
    assert share(ok) >= EN_UNSEEN, f"missed: {missed}"


@pytest.mark.parametrize(
    "question",
    [
        "ロシアの停戦条件は?",
        "ロシアの停戦条件は？",
        "ﾛｼｱの停戦条件は?",
        "What conditions did Russia demand for a ceasefire?",
    ],
)
def test_the_flagship_question_leads_with_the_conditions(shipped, question):
    answer = shipped.ask(question)
    assert CONDITIONS in answer.sentences[0], answer.text


def test_no_answer_leans_on_a_missing_sentence_or_quotes_a_non_statement(keyfact_answers):
    for a in keyfact_answers:
        if a.no_answer:
            continue
        assert not CONNECTIVE.match(a.sentences[0]), a.text
        for sentence in a.sentences:
            assert quotable(sentence), sentence
            assert not re.search(r"[✅💡]|公開日|さらに読む|https?://", sentence)


@pytest.mark.parametrize("split", ["tune", "holdout"])
def test_questions_about_other_news_are_refused(shipped, split):
    """Same genre (wars, ceasefires, leaders), other stories: not answered with our sentences."""
    qs = [q for q in OTHERNEWS if q["split"] == split]
    answers = shipped.batch_ask([q["question"] for q in qs])
    for lang, bar in (("ja", 0.95), ("en", EN_OTHERNEWS)):
        got = [(q, a) for q, a in zip(qs, answers) if q["lang"] == lang]
        wrong = [q["question"] for q, a in got if not a.no_answer]
        assert share(a.no_answer for _, a in got) >= bar, f"answered: {wrong}"


@pytest.mark.parametrize("split", ["tune", "holdout"])
def test_loosely_phrased_questions_about_the_coverage_are_answered(shipped, split):
    qs = [q for q in ONTOPIC if q["split"] == split]
    answers = shipped.batch_ask([q["question"] for q in qs])
    refused = [q["question"] for q, a in zip(qs, answers) if a.no_answer]
    assert share(not a.no_answer for a in answers) >= ONTOPIC_BAR, f"refused: {refused}"


def test_a_refusal_about_other_news_names_the_nearby_coverage(shipped):
    gaza, korea, russia = shipped.batch_ask(
        ["ガザ地区の停戦交渉は?", "北朝鮮のミサイル発射は?", "ロシアの停戦条件は?"]
    )
    assert gaza.no_answer and korea.no_answer and not russia.no_answer
    assert gaza.nearby and "停戦交渉" in gaza.nearby[0]


def test_offtopic_questions_are_refused(searcher):
    """At least 95 % of questions the coverage cannot answer get the honest 'not covered'."""
    answers = searcher.batch_ask([q["question"] for q in OFFTOPIC])
    refused = [a for a in answers if a.no_answer]
    rate = len(refused) / len(answers)
    answered = [a.question for a in answers if not a.no_answer]
    assert rate >= 0.95, f"refused {rate:.3f}; answered: {answered}"
    assert all(a.hits == () for a in refused)


def test_refusal_speaks_the_questions_language(searcher):
    ja, en, hi = searcher.batch_ask(["明日の札幌の天気は？", "What's a good pancake recipe?", "hi"])
    ja_text, en_text, hi_text = map(refusal_text, (ja, en, hi))
    assert ja.no_answer and ja.lang == "ja" and "天気" in ja.missing
    assert re.search(r"[ぁ-ん]", ja_text) and "天気" in ja_text  # says what it has nothing on
    assert en.no_answer and en.lang == "en" and not re.search(r"[ぁ-ん]", en_text.split(":")[0])
    assert (hi.no_answer, hi.reason, hi_text) == (
        True,
        Reason.OFF_TOPIC,
        REFUSALS["en"]["off_topic"],
    )


def test_paraphrased_questions_find_their_section_in_top_3(searcher):
    """Questions in our own words (some in English) still reach the right seed section."""
    hits = searcher.batch_search([q["question"] for q in PARAPHRASE], k=3)
    found = [
        any(h.article == SEED_ARTICLE.name and h.section == q["section"] for h in hs)
        for q, hs in zip(PARAPHRASE, hits)
    ]
    missed = [q["question"] for q, ok in zip(PARAPHRASE, found) if not ok]
    assert sum(found) / len(found) >= 0.90, f"missed: {missed}"


def test_paraphrased_questions_are_mostly_answered(searcher):
    answers = searcher.batch_ask([q["question"] for q in PARAPHRASE])
    rate = sum(not a.no_answer for a in answers) / len(answers)
    # 0.91 before the subject check (issue 14): paraphrases that swap the coverage's words for
    # synonyms (休戦 for 停戦, 徴兵 for 動員) are now refused unless their meaning is clear.
    assert rate >= 0.70, f"answered {rate:.3f}"


@pytest.mark.parametrize(
    "question",
    ["ロシアの停戦条件は?", "プーチンはトランプに何を譲歩した?", "奈良の鹿は何を食べる?"],
)
def test_answer_sentences_are_verbatim_and_cited(searcher, question):
    answer = searcher.ask(question)
    assert not answer.no_answer
    pairs = cited_sentences(answer)
    assert 1 <= len(pairs) <= 3
    for sentence, n in pairs:
        assert 1 <= n <= len(answer.hits)
        # The cited passage contains the sentence word for word.
        assert sentence in split_sentences(answer.hits[n - 1].text)


def hit(text: str, section: str = "s", n: int = 0) -> Hit:
    """A passage of a news article (its title a headline, never an answer's subject)."""
    return Hit(
        "a.md", "記事の見出し、テスト", section, text, ("https://e.x/1",), None, None, 1.0, n
    )


def candidates(hits: list[Hit], cosines: list[list[float]]) -> list[Candidate]:
    """What the searcher gathers: each quotable sentence with its cosine to the question."""
    out = []
    for rank, (h, cs) in enumerate(zip(hits, cosines)):
        for pos, (sentence, cos) in enumerate(zip(split_sentences(h.text), cs)):
            if quotable(sentence):
                out.append(Candidate(rank, h.passage_id, pos, sentence, cos))
    return out


def test_compose_quotes_a_repeated_point_once():
    """The seed says things twice (summary bullet and body); the answer says them once."""
    point = "ロシアは30日間の即時停戦案を拒否した。"
    hits = [hit(f"{point}\n関係のない文です。", n=0), hit(f"{point}\n別の話題です。", "s2", 1)]
    answer = compose("停戦案は?", hits, candidates(hits, [[0.9, 0.5], [0.9, 0.4]]), {"停戦": 1.0})
    assert sum(point in s for s in answer.sentences) == 1


def test_compose_picks_the_most_relevant_sentence_not_the_first():
    hits = [hit("前置きの文です。\n答えはこの文にあります。\n後書きの文です。")]
    answer = compose("答えは?", hits, candidates(hits, [[0.70, 0.92, 0.71]]), {}, 1)
    assert answer.text == "答えはこの文にあります。[1]"


def test_compose_never_quotes_questions_exclamations_or_musings():
    text = (
        "本当に停戦するのか?\n停戦だ!\n停戦は近いんとちゃうかな?\n停戦は難しいですね。\n"
        "停戦は合意に至っていない。"
    )
    hits = [hit(text)]
    answer = compose("停戦は?", hits, candidates(hits, [[0.99, 0.99, 0.99, 0.99, 0.80]]), {})
    assert answer.sentences == ("停戦は合意に至っていない。",)


def test_the_lead_sentence_loses_its_connective():
    """「しかし、…」 cannot open an answer: it leans on a sentence the reader never saw."""
    hits = [hit("しかし、停戦については具体的な合意には至っていない。")]
    answer = compose("停戦の合意は?", hits, candidates(hits, [[0.9]]), {}, 1)
    assert answer.sentences == ("停戦については具体的な合意には至っていない。",)
    assert answer.sentences[0] in hits[0].text


def test_an_answer_names_the_article_its_sentence_leaves_implicit():
    """Japanese drops a subject that is the article's: 「…と呼ばれている。」 in ドミニカ国 answers
    「…と呼ばれる国は?」 only once the article is named."""
    text = "自然が豊かなこの島は、多くの植物が自生しており、「カリブ海の植物園」と呼ばれている。"
    named = dataclasses.replace(hit(text), title="ドミニカ国")
    answer = compose("カリブ海の植物園と呼ばれる国は?", [named], candidates([named], [[0.9]]), {})
    assert answer.subject == "ドミニカ国"
    assert answer.text == f"【ドミニカ国】{text}[1]" and answer.shown == f"【ドミニカ国】{text}"
    assert answer.sentences == (text,)  # the quoted sentences stay verbatim


# An encyclopedia-like article: its title names a thing, its sentences leave it implicit.
ENCYCLOPEDIA = DATA / "encyclopedia" / "dominica.md"


def test_a_question_about_the_articles_own_subject_is_answered_by_naming_it(embedder, tmp_path):
    """Over an article whose title names a thing, the sentence that never says it is answered."""
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(ENCYCLOPEDIA, articles)
    searcher = Searcher.open(make_options(tmp_path, articles), embedder=embedder)
    answer = searcher.ask("カリブ海の植物園と呼ばれる国は?")
    assert answer.shown.startswith("【ドミニカ国】") and "植物園」と呼ばれている。" in answer.shown
    # A question that names the article is answered by the sentence alone.
    assert searcher.ask("ドミニカ国の経済の中心は?").subject == ""


@pytest.mark.parametrize(
    ("title", "question", "sentence", "named"),
    [
        ("RKBラジオ", "24時間放送している局は?", "24時間放送を実施。", "RKBラジオ"),
        ("Google 検索", "順位は何で決まる?", "ページランクで決まる。", "Google 検索"),
        # A headline names no thing: never a subject.
        ("トランプとプーチン、停戦交渉の行方", "停戦条件は?", "ロシアは条件を示した。", ""),
        ("日銀 利上げへ", "利上げの幅は?", "0.25%引き上げる。", ""),
        ("日銀が利上げ｜毎日新聞", "利上げの幅は?", "0.25%引き上げる。", ""),  # a page title
        ("富士山の夏山シーズン、登山者が知っておきたい基本", "山開きは?", "7月に始まる。", ""),
        # Already named by the question or by the answer itself.
        ("ラオス", "ラオスの首都は?", "首都はヴィエンチャンである。", ""),
        ("ラオス", "東南アジアの国は?", "ラオスは東南アジアの国である。", ""),
    ],
)
def test_only_a_title_that_names_a_thing_becomes_the_subject(title, question, sentence, named):
    assert subject(title, question, sentence) == named


def test_a_date_question_prefers_the_sentence_with_a_date():
    hits = [hit("会談は非常に良い雰囲気で行われた。\n会談は2025年3月18日に行われた。")]
    answer = compose("会談はいつ行われた?", hits, candidates(hits, [[0.90, 0.89]]), {}, 1)
    assert "2025年" in answer.sentences[0]


@pytest.mark.parametrize(
    ("question", "terms", "missing"),
    [
        ("ロシアの停戦条件は?", ["ロシア", "停戦条件"], []),  # 停戦 + 条件
        ("ガザ地区の停戦交渉は?", ["ガザ", "地区", "停戦交渉"], ["ガザ"]),  # 地区: affixes
        ("韓国大統領の弾劾はどうなった?", ["韓国大統領", "弾劾"], ["韓", "弾劾"]),
        ("ゼレンスキー大統領の支持率は?", ["ゼレンスキー", "大統領", "支持率"], ["支持"]),
        ("米国の国防長官の発言のポイントは?", ["米国", "国防長官", "発言"], []),  # アメリカ
        ("ロシアが停戦を呼びかけた場所はどこ?", ["ロシア", "停戦"], []),  # 場所: framing
        ("プーチンが譲歩したのは何日間?", ["プーチン", "譲歩"], []),  # 何日間: the kind asked
        # The form the answer is wanted in (its full name, in katakana, the Western year).
        ("マーラーのフルネームは?", ["マーラー"], ["マーラー"]),
        ("停戦をカタカナで何という?", ["停戦"], []),
        ("停戦が合意されたのは西暦何年?", ["停戦", "合意"], []),
    ],
)
def test_subject_terms_and_what_the_seed_lacks(question, terms, missing):
    seed = normalize(SEED_ARTICLE.read_text(encoding="utf-8"))
    assert term_rules.subject_terms(question) == terms
    assert term_rules.missing_terms(terms, seed) == missing


def test_names_and_words_are_told_apart():
    assert [term_rules.is_name(t) for t in ["ガザ", "nato", "韓", "日米", "弾劾", "支持"]] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("name", "present"),
    [
        ("Hegseth", True),
        ("Zelensky", True),
        ("Trump", True),
        ("Zaporizhzhia", False),
        ("Ishiba", False),
        ("Kursk", False),
        ("Netanyahu", False),
    ],
)
def test_an_english_name_the_glossary_lacks_is_looked_for_by_its_sound(name, present):
    """ヘグセス is Hegseth: katakana keeps a name's consonants, so the check needs no dictionary."""
    seed = normalize(SEED_ARTICLE.read_text(encoding="utf-8"))
    assert crosslingual.sounds_present(name, seed) is present


def test_a_name_the_glossary_lacks_is_searched_by_the_corpus_spelling(shipped):
    """Hegseth has no glossary entry: the index's katakana words with its consonants stand in,
    in the lexical query and the answer's scoring, so his sentence leads."""
    assert "ヘグセス" in shipped.index.manifest["katakana"]
    question = "What did Hegseth say?"
    terms = dict((e, js) for e, _, js in crosslingual.terms_in(question, shipped.index.katakana))
    assert terms["hegseth"] == ("ヘグセス",)
    assert crosslingual.terms_in(question, None) == crosslingual.english_terms(question)
    answer = shipped.ask("What did Hegseth rule out for Ukraine?")
    assert "ヘグセス" in answer.sentences[0] and "米軍を派遣しない" in answer.sentences[0]


def test_a_name_takes_the_katakana_word_that_sounds_like_it():
    """Of the corpus's words with a name's consonants, the one whose romaji sounds like it."""
    table = crosslingual.Katakana(
        ["アパチン", "ピチャン", "ポターニン", "プーチン", "ジェレニスキー", "ゼレンスキー"]
        + ["ウィトコフ", "チェコフ", "ヘグセス", "バンス", "エネルギー", "ガバメント"]
    )
    assert table["ptn"] == ("アパチン", "ピチャン", "ポターニン", "プーチン")  # still a dict
    expected = {"Putin": ("プーチン",), "Zelensky": ("ゼレンスキー",), "Witkoff": ("ウィトコフ",)}
    expected |= {"Hegseth": ("ヘグセス",), "Vance": ("バンス",)}
    for name, spelled in expected.items():
        assert table.like(name) == spelled
    for word in ("Said", "Ceasefire", "About", "Agreed", "Border"):  # plain words: no name
        assert table.like(word) == ()
    question = "Did Zelensky call Putin?"
    terms = {e: js for e, _, js in crosslingual.terms_in(question, table) if e != "call"}
    assert terms == {"zelensky": ("ゼレンスキー",), "putin": ("プーチン",)}


def test_hegseth_on_nato_is_answered_from_the_seed(shipped):
    """The seed quotes ヘグセス国防長官 on NATO: the English question finds and cites it."""
    answer = shipped.ask("What did Hegseth say about NATO?")
    assert not answer.no_answer and "ヘグセス" in answer.sentences[0]
    assert "NATO" in answer.sentences[0]
    cited = answer.hits[answer.citations[0] - 1]
    assert cited.article == SEED_ARTICLE.name and cited.sources


def test_and_zelensky_after_putin_finds_zelensky(shipped):
    """A follow-up naming only Zelensky searches the seed's ゼレンスキー sentence first."""
    from index.conversation import Turn

    first = shipped.ask("What did Putin agree to?")
    query = shipped.query("And Zelensky?", Turn("What did Putin agree to?", first, 0.0))
    terms = crosslingual.terms_in(query.text, shipped.index.katakana)
    assert ("zelensky", True, ("ゼレンスキー",)) in terms
    index, (ranking,) = shipped.rank([query])
    assert "ゼレンスキー" in index.text(int(ranking.ranked.ids[0]))


def test_demonyms_are_looked_up_as_their_country():
    """JMdict has american → アメリカン; news writes アメリカ or 米."""
    terms = dict((e, js) for e, _, js in crosslingual.english_terms("Did American troops go?"))
    assert {"アメリカ", "米"} <= set(terms["american"])


def test_the_sentence_that_spells_out_the_lead_follows_it():
    """「数々の譲歩を行い」 announces; 「具体的には、…30日間停止…」 is the fact: it comes second."""
    text = (
        "プーチン大統領は数々の譲歩を行った。\n"
        "具体的には、攻撃を30日間停止することを約束した。\n"
        "会談は2時間に及んだ。"
    )
    hits = [hit(text)]
    answer = compose("プーチンは何を譲歩した?", hits, candidates(hits, [[0.95, 0.80, 0.90]]), {}, 2)
    assert answer.sentences == (
        "プーチン大統領は数々の譲歩を行った。",
        "具体的には、攻撃を30日間停止することを約束した。",
    )


def test_an_english_word_counts_once_whatever_its_senses():
    """conditions → 条件 … 情勢 (twelve senses) must not outweigh ceasefire → 停戦 (one)."""
    hits = [hit("ウクライナ情勢については協議した。\nロシアは停戦の条件を示した。")]
    terms = term_rules.question_terms("What conditions did Russia set for a ceasefire?", "en")
    asked = Asked.english("What conditions did Russia set for a ceasefire?", terms)
    assert len(asked.terms) == len([t for t in terms if t.ja])
    answer = compose("What conditions?", hits, candidates(hits, [[0.9, 0.9]]), {}, 1, asked=asked)
    assert answer.sentences == ("ロシアは停戦の条件を示した。",)


@pytest.mark.parametrize(("subject", "covered"), [(True, True), (False, False)])
def test_a_question_whose_subject_words_are_all_present_needs_a_smaller_margin(subject, covered):
    options = IndexOptions(min_margin=0.01, present_bonus=0.01)
    verdict = coverage.decide(0.005, 0.0, [], [], options, subject=subject)
    assert verdict.covered is covered


@pytest.mark.parametrize(
    ("question", "word", "term"),
    [
        ("When will the plan be announced?", "announced", "発表"),
        ("What are Russia's terms for a truce?", "terms", "条件"),
        ("What are Russia's terms for a truce?", "truce", "停戦"),
        ("What is Ukraine asking for?", "asking", "求め"),
    ],
)
def test_news_senses_replace_the_everyday_ones(question, word, term):
    """JMdict gives announce → 言い渡す, terms → 間柄; news writes 発表, 条件."""
    terms = {e: js for e, _, js in crosslingual.english_terms(question)}
    assert term in terms[word]


def test_an_action_is_looked_for_but_never_required():
    """'blame' may be reported as 主張 or 非難: without it the question is still about our news."""
    assert crosslingual.is_action("blamed") and not crosslingual.is_action("sanctions")
    terms = term_rules.question_terms("Who did Trump blame for the sanctions?", "en")
    names, words = term_rules.missing_english(terms, "トランプ氏はウクライナが始めたと主張した。")
    assert (names, words) == ([], ["sanctions"])


def test_an_english_word_weighs_as_its_most_common_term_is_rare():
    """トランプ is in every passage, 譲歩 in few: 'concede' decides, not 'Trump'."""
    question = "What did Trump concede?"
    idf = {"トラ": 0.1, "ラン": 0.1, "ンプ": 0.1, "譲歩": 3.0, "譲": 2.5}
    asked = Asked.english(question, term_rules.question_terms(question, "en"), idf)
    hits = [hit("トランプ大統領は会談した。\nロシアは譲歩を示した。")]
    answer = compose(question, hits, candidates(hits, [[0.9, 0.9]]), {}, 1, asked=asked)
    assert answer.sentences == ("ロシアは譲歩を示した。",)


@pytest.mark.parametrize(
    ("sentence", "quoted"),
    [
        (
            "トランプ大統領、ロシアに高関税と追加制裁を警告!",
            "トランプ大統領、ロシアに高関税と追加制裁を警告",
        ),
        ("ロシアの攻勢が続く状況は厳しいですね!", None),
        ("これは本当にすごいことだと思う!", None),
    ],
)
def test_a_headline_is_quoted_without_its_exclamation_mark(sentence, quoted):
    """…を警告! states a fact; one ending in kana (ですね!) is a reaction, never quoted."""
    assert quotable(sentence) is (quoted is not None)
    if quoted:
        hits = [hit(sentence)]
        answer = compose("何を警告した?", hits, candidates(hits, [[0.9]]), {}, 1)
        assert answer.sentences == (quoted,)


@pytest.mark.parametrize(
    ("question", "states", "does_not"),
    [
        ("首脳会談はどこで開かれそう?", "サウジアラビアでの開催が有力だ。", "会談は有意義だった。"),
        ("How long will Russia stop the attacks?", "攻撃を30日間停止する。", "30人が参加した。"),
        ("何人が参加した?", "30人が参加した。", "会談は有意義だった。"),
    ],
)
def test_the_kind_of_fact_asked_for_is_recognized(question, states, does_not):
    """どこ → a place (a katakana name with で), how long → a duration, 何人 → a number."""
    cue = answer_cue(question)
    assert cue.search(states) and not cue.search(does_not)


@pytest.mark.parametrize(
    ("damping", "lead"), [(0.5, "ロシアは譲歩を示した。"), (1.0, "会談は長引いた。")]
)
def test_an_english_question_leans_less_on_the_passage_ranking(damping, lead):
    """Cross-lingual ranking is weaker: a lower passage holding the words can lead."""
    question = "What did Russia concede?"
    asked = Asked.english(question, term_rules.question_terms(question, "en"))
    lower = dataclasses.replace(hit("ロシアは譲歩を示した。", n=1), score=0.3)
    hits = [hit("会談は長引いた。"), lower]
    weights = Weights(crosslingual=damping)
    answer = compose(
        question, hits, candidates(hits, [[0.8], [0.8]]), {}, 1, weights=weights, asked=asked
    )
    assert answer.sentences == (lead,)
