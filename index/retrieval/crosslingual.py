"""English questions over Japanese coverage: their words in Japanese, from a JMdict glossary.

e5-small matches an English question to Japanese sentences by meaning, but weakly: the cosines
of every sentence sit within a few hundredths of each other. Looking the question's words up in
a bilingual glossary gives the lexical side, the subject check and the answer step the Japanese
words to look for (ceasefire → 停戦, Gaza → ガザ).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import jaconv
from rapidfuzz import fuzz, process

GLOSSARY = Path(__file__).with_name("data") / "glossary_en_ja.tsv"
# Hand-written news senses, each replacing JMdict's entry for its word.
NEWS_GLOSSARY = GLOSSARY.with_name("glossary_news.tsv")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# English words that say nothing of a question's subject (coverage.py uses them too).
STOP = set(
    """
    a an the and or but of to in on at for from by with about into over after before between is
    are was were be been being do does did done have has had will would can could should may
    might must shall what which who whom whose when where why how that this these those there
    it its they them their he she his her we you your i me my our us not no yes any some all
    more most much many very so than too as if then also just only still yet ever again now
    latest news today current currently happen happened happening say said says tell think
    thinks know get got go going up down out new s like want wants let lets make made another
    other others apart else kind sort
    """.split()
)


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    """English word or phrase → Japanese terms, most common sense first."""
    return {english: japanese for english, (japanese, _) in _entries().items()}


@lru_cache(maxsize=1)
def _entries() -> dict[str, tuple[tuple[str, ...], bool]]:
    """English → (Japanese terms, an action?), JMdict's entries replaced by the news ones."""
    out: dict[str, tuple[tuple[str, ...], bool]] = {}
    for path in (GLOSSARY, NEWS_GLOSSARY):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                english, japanese, *kind = line.rstrip("\n").split("\t")
                out[english] = (tuple(japanese.split()), kind == ["verb"])
    return out


def is_action(word: str) -> bool:
    """Whether the news glossary marks the word (or its base: blamed → blame) as an action."""
    entries = _entries()
    return any(entries.get(base, ((), False))[1] for base in _bases(word))


@lru_cache(maxsize=1024)
def english_terms(question: str) -> tuple[tuple[str, bool, tuple[str, ...]], ...]:
    """(word or phrase, written as a name?, Japanese terms) for the question's content words.

    Phrases of up to three words are looked up first (north korea → 北朝鮮); a word the glossary
    does not know has no terms and cannot be checked.
    """
    words = [(re.sub(r"'s$", "", m.group(0)), m.start()) for m in _WORD.finditer(question)]
    table = glossary()
    out, i = [], 0
    while i < len(words):
        for n in (3, 2, 1):
            chunk = words[i : i + n]
            key = " ".join(w.lower() for w, _ in chunk)
            last = chunk[-1][0].lower() if chunk else ""
            first = chunk[0][0].lower() if chunk else ""
            if len(chunk) == n and (n == 1 or (key in table and {first, last}.isdisjoint(STOP))):
                break
        if n == 1 and key in STOP:
            i += 1
            continue
        name = any(w[0].isupper() and pos > 0 for w, pos in chunk)
        out.append((key, name, _lookup(key, table)))
        i += n
    return tuple(out)


def expand(question: str, katakana: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """The question followed by its words' Japanese terms, for the lexical side.

    The lexical side is given the question lower-cased, where a name no longer looks like one:
    every word the glossary lacks is looked for in the corpus's katakana (and zelensky?)."""
    extra = [t for _, _, terms in terms_in(question, katakana, any_case=True) for t in terms]
    return " ".join([question, *extra])


def terms_in(
    question: str, katakana: Mapping[str, tuple[str, ...]] | None, any_case: bool = False
) -> tuple[tuple[str, bool, tuple[str, ...]], ...]:
    """english_terms, where a name the glossary lacks takes the corpus's katakana word that
    sounds like it (Hegseth → ヘグセス; katakana: a Katakana table, or a by_skeleton dict);
    any_case: every word the glossary lacks, not only those written as names."""
    terms = english_terms(question)
    if not katakana:
        return terms
    return tuple(
        (w, name, js or (_spelled(w, katakana) if name or any_case else ()))
        for w, name, js in terms
    )


def _spelled(name: str, katakana: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The corpus's katakana words for a name: by sound when the table knows sounds."""
    if isinstance(katakana, Katakana):
        return katakana.like(name)
    return katakana.get(skeleton_en(name), ())


def katakana_words(texts: Iterable[str]) -> list[str]:
    """The distinct katakana words of three or more characters in texts (names, loanwords)."""
    return sorted({w for t in texts for w in _KATAKANA_RUN.findall(t) if len(w) >= 3})


def by_skeleton(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Katakana words grouped by their consonants (skeleton_ja), for terms_in."""
    out: dict[str, list[str]] = {}
    for w in words:
        key = skeleton_ja(w)
        if len(key) >= 2:
            out.setdefault(key, []).append(w)
    return {k: tuple(v) for k, v in out.items()}


class Katakana(dict):
    """The corpus's katakana words by consonant skeleton (a by_skeleton dict), and by sound.

    The skeleton alone took every word with the same consonants (Putin: アパチン, ピチャン,
    プーチン); the words' romaji tell them apart, and find a name whose consonants katakana
    writes otherwise (Vance: バンス) (benchmarks/katakana_names.py, on JMnedict's
    transliterations: precision .17 → .82, plain English words matched .31 → .12).
    """

    def __init__(self, words: Iterable[str] = ()):
        words = tuple(words)
        super().__init__(by_skeleton(words))
        self.words = words
        self._sounds: dict[str, tuple[str, ...]] | None = None
        self._found: dict[str, tuple[str, ...]] = {}

    def like(self, name: str) -> tuple[str, ...]:
        """Of the words with the name's consonants, those that sound most like it; else the
        word that sounds closest, if close enough."""
        found = self._found.get(name)
        if found is None:
            wanted = sound_en(name)
            found = self._ranked(wanted, self.get(skeleton_en(name), ())) or self._closest(wanted)
            if len(self._found) < 4096:  # a bounded memo: the same names come back each turn
                self._found[name] = found
        return found

    @staticmethod
    def _ranked(wanted: str, words: tuple[str, ...]) -> tuple[str, ...]:
        scores = {w: fuzz.ratio(wanted, sound_ja(w)) for w in words}
        best = max(scores.values(), default=0.0)
        return tuple(w for w in words if scores[w] == best) if best >= SKELETON_MIN else ()

    def _closest(self, wanted: str) -> tuple[str, ...]:
        if self._sounds is None:  # romanized once per index version, on the first name
            sounds: dict[str, list[str]] = {}
            for w in self.words:
                sounds.setdefault(sound_ja(w), []).append(w)
            self._sounds = {k: tuple(v) for k, v in sounds.items() if len(k) >= 3}
        if len(wanted) < 3:
            return ()
        best = process.extractOne(wanted, list(self._sounds), scorer=fuzz.ratio)
        if best is None or best[1] < SOUND_MIN or best[0][0] != wanted[0]:
            return ()
        return self._sounds[best[0]]


# The least fuzz.ratio (0-100) of a name's sound and a katakana word's: a word with the name's
# consonants needs SKELETON_MIN, any other SOUND_MIN (benchmarks/katakana_names.py, tuned on a
# held-out seed of JMnedict's transliterations).
SKELETON_MIN = 70
SOUND_MIN = 85


def _lookup(key: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    # Plurals and -ed/-ing forms: the glossary mostly lists base forms, which come first.
    # Every base that exists counts: a word with many readings is too vague to check.
    found: list[str] = list(DEMONYMS.get(key, ()) + METONYMS.get(key, ()))
    for base in _bases(key):
        # Every reading: asking → ask (and aske), rating → rate; the word itself last.
        found.extend(table.get(base, ()))
    return tuple(dict.fromkeys(found))


def _bases(key: str) -> list[str]:
    """The word's possible base forms (plural, -ed, -ing), then the word itself."""
    out = []
    for suffix, repl in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("ed", "e"),
        ("ing", "e"),
        ("ing", ""),
    ):
        base = key[: -len(suffix)] + repl
        if key.endswith(suffix) and len(base) >= 3:
            out.append(base)
    return [*out, key]


# JMdict gives demonyms as loanwords (american → アメリカン); news writes the country.
DEMONYMS = {
    "american": ("アメリカ", "米国", "米"),
    "russian": ("ロシア", "露"),
    "ukrainian": ("ウクライナ",),
    "european": ("欧州", "ヨーロッパ"),
    "chinese": ("中国",),
    "japanese": ("日本",),
    "korean": ("韓国", "朝鮮"),
    "british": ("英国", "イギリス"),
    "french": ("フランス",),
    "german": ("ドイツ",),
    "israeli": ("イスラエル",),
    "iranian": ("イラン",),
    "palestinian": ("パレスチナ",),
    "syrian": ("シリア",),
    "turkish": ("トルコ",),
    "indian": ("インド",),
}

# News names a government by its capital or seat (Moscow wants…): both count.
METONYMS = {
    "moscow": ("モスクワ", "ロシア"),
    "kremlin": ("クレムリン", "ロシア"),
    "kyiv": ("キーウ", "キエフ", "ウクライナ"),
    "kiev": ("キーウ", "キエフ", "ウクライナ"),
    "washington": ("ワシントン", "アメリカ", "米国", "米"),
    "white house": ("ホワイトハウス", "アメリカ", "米国", "米"),
    "beijing": ("北京", "中国"),
    "tokyo": ("東京", "日本"),
    "london": ("ロンドン", "英国", "イギリス"),
    "paris": ("パリ", "フランス"),
    "berlin": ("ベルリン", "ドイツ"),
    "brussels": ("ブリュッセル", "EU", "欧州"),
    "pyongyang": ("平壌", "北朝鮮"),
    "seoul": ("ソウル", "韓国"),
    "tehran": ("テヘラン", "イラン"),
}

# A name the glossary lacks (Hegseth, Zelensky) is looked for by its consonants: katakana
# keeps an English name's consonants in order (ヘグセス: h g s s) and drops or adds vowels.
_KANA_CONSONANT = dict(
    zip(
        "カキクケコガギグゲゴサシスセソザジズゼゾタチツテトダヂヅデドナニヌネノハヒフヘホ"
        "バビブベボパピプペポマミムメモラリルレロワヴン",
        "kkkkkgggggssssszzzzztttttdzzddnnnnnhhfhhbbbbbpppppmmmmmrrrrrwbn",
    )
)
_ENGLISH_SOUNDS = (
    ("tch", "t"),
    ("ch", "t"),
    ("sh", "s"),
    ("th", "s"),
    ("ph", "f"),
    ("zh", "z"),
    ("kh", "k"),
    ("ck", "k"),
    ("gh", ""),
    ("ts", "t"),
    ("x", "ks"),
    ("q", "k"),
    ("ce", "se"),
    ("ci", "si"),
    ("cy", "sy"),
    ("c", "k"),
    ("j", "z"),
    ("v", "b"),
    ("l", "r"),
)
_KATAKANA_RUN = re.compile(r"[ァ-ヺー]+")


def skeleton_en(word: str) -> str:
    """An English name's consonants as katakana would keep them (hegseth → hgs)."""
    w = word.lower()
    for a, b in _ENGLISH_SOUNDS:
        w = w.replace(a, b)
    return _squeeze(c for c in w if c.isalpha() and c not in "aeiouyw")


def skeleton_ja(run: str) -> str:
    """A katakana word's consonants (ヘグセス → hgs)."""
    return _squeeze(_KANA_CONSONANT.get(c, "") for c in run if c != "ワ")


def sounds_present(name: str, text: str) -> bool:
    """Whether text writes the name in Latin letters or a katakana word with its consonants."""
    if name.lower() in text.lower():
        return True
    target = skeleton_en(name)
    return len(target) >= 2 and any(
        skeleton_ja(run) == target for run in _KATAKANA_RUN.findall(text)
    )


# English spellings as katakana hears them, and romaji written alike (both: sound_en, sound_ja).
_EN_SOUNDS = (("tch", "t"), ("ch", "t"), ("sh", "s"), ("th", "s"), ("ph", "f"), ("ck", "k"))
_EN_SOUNDS += (("gh", ""), ("x", "ks"), ("q", "k"), ("c(?=[eiy])", "s"), ("c", "k"), ("l", "r"))
_JA_SOUNDS = (("-", ""), ("shi", "si"), ("chi", "ti"), ("tsu", "tu"), ("ji", "zi"), ("dzu", "zu"))
_BOTH = (("f", "h"), ("j", "z"), ("v", "b"), ("w", "u"), ("y", "i"), (r"(.)\1+", r"\1"))
_BOTH += (("m(?=[pb])", "n"),)  # ン before p and b (トランプ: Trump)


def sound_en(word: str) -> str:
    """An English name as katakana would say it, in romaji-like letters (zelensky → zerenski)."""
    w = word.lower()
    for a, b in _EN_SOUNDS:
        w = re.sub(a, b, w)
    w = re.sub(r"(?<=[aeiou])r(?![aeiou])", "", w)  # star → スター: an r after a vowel is long
    return _alike(re.sub(r"[^a-z]", "", w))


def sound_ja(word: str) -> str:
    """A katakana word's romaji, spelled as sound_en spells (ゼレンスキー → zerensuki)."""
    w = jaconv.kana2alphabet(jaconv.kata2hira(word))
    for a, b in _JA_SOUNDS:
        w = w.replace(a, b)
    return _alike(re.sub(r"[^a-z]", "", w))


def _alike(w: str) -> str:
    for a, b in _BOTH:
        w = re.sub(a, b, w)
    return w


def _squeeze(chars) -> str:
    out: list[str] = []
    for c in chars:
        c = "h" if c == "f" else c  # フ writes both fu and hu (ネタニヤフ: Netanyahu)
        if c and (not out or out[-1] != c):
            out.append(c)
    return re.sub(r"m(?=[pb])", "n", "".join(out))  # ン before p and b (トランプ: Trump)
