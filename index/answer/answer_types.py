"""What a question asks for (a time, a place, a person, a quantity, a reason, a way, a thing)
and whether a sentence states one: Japanese and English question words, Japanese sentences."""

from __future__ import annotations

import re

TIME = "time"
PLACE = "place"
PERSON = "person"  # a person or a body: a country, a government, a company
QUANTITY = "quantity"  # how many, how much, how long
REASON = "reason"
WAY = "way"
THING = "thing"
KINDS = (TIME, PLACE, PERSON, QUANTITY, REASON, WAY, THING)

# Tried in this order: the more specific question words first (何日間 before 何日, どのように
# and どの国 before どの, why before what).
_ASKS = (
    (REASON, r"なぜ|何故|どうして|なんで|何で[^、。]*の[?？]|理由は|何のため|why"),
    (
        WAY,
        r"どのように|どうやって|どんな方法|どういう方法|"
        r"how (?:do|does|did|is|are|was|were|can|could|to)\b",
    ),
    (
        QUANTITY,
        r"何日間|何年間|何時間|何週間|何か月|何ヶ月|何カ月|どのくらいの期間|いつまで|"
        r"何人|何歳|何回|何個|何本|何台|何件|何割|何キロ|何メートル|何円|何倍|何パーセント|何%|"
        r"何種|何カ国|何か国|何位|何点|何票|何度|何隻|何機|何社|何店|いくら|いくつ|"
        r"どのくらい|どれくらい|どれほど|どれだけ|how (?:many|much|long|far|old)",
    ),
    (TIME, r"いつ|何年|何月|何日|何時|何世紀|何時代|いつ頃|何曜|when|what (?:year|time|date)"),
    (PLACE, r"どこ|何処|どの地域|どの都市|どの場所|何県|何市|何州|where"),
    (PERSON, r"誰|だれ|どの国|どこの国|どの団体|どの組織|どの会社|どの企業|何者|who|which country"),
    (THING, r"何|なに|なん|どんな|どのような|どういう|どれ|どの|what|which"),
)
_ASK_RES = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _ASKS)

_NUM = r"[0-9０-９一二三四五六七八九十百千万億兆数]+(?:[.,．][0-9]+)?"
_COUNTER = (
    r"(?:人|名|歳|才|回|個|本|台|件|割|キロ|km|メートル|m|センチ|cm|円|ドル|ユーロ|%|％|"
    r"パーセント|倍|日間|週間|か月|ヶ月|カ月|年間|時間|分|秒|万|億|兆|トン|t|kg|グラム|種|"
    r"つ|階|位|点|票|店|社|校|部|冊|枚|頭|匹|羽|隻|機|基|両|戸|軒|曲|話|作|カ国|か国|ヵ国|"
    r"度|周|勝|敗|試合|年|日|歩|条|箇所|カ所|か所|世帯|人口|平方)"
)
_HOLDS = {
    TIME: re.compile(
        r"\d+年|\d+月|\d+日|[0-9０-９]+時|[一二三四五六七八九十]+世紀|\d+世紀|年代|時代|元年|"
        r"[明大昭平令][治正和成]\d*年?|今年|昨年|去年|来年|先月|今月|来月|昨日|今日|明日|"
        r"午前|午後|曜日|上旬|中旬|下旬|以降|以来|当時|末期|初頭|前半|後半|[春夏秋冬]に"
    ),
    QUANTITY: re.compile(_NUM + r"\s*" + _COUNTER + r"|約\s*" + _NUM + r"|" + _NUM + "以上"),
    PLACE: re.compile(
        r"[都道府県市区町村州島駅港湾]|国内|地方|地域|大陸|半島|海峡|沿岸|郊外|"
        r"[北南東西中]部|[ァ-ヺー]{2,}(?:で|にて|に位置|にある)|で開催|で開か|で行われ|"
        r"に位置|に所在|に本社|に本部|出身"
    ),
    PERSON: re.compile(
        r"氏|さん|大統領|首相|長官|大臣|選手|監督|[^a-z]王|皇帝|天皇|将軍|博士|教授|社長|議員|"
        r"知事|市長|会長|総裁|委員長|書記|政府|[^a-z]省|委員会|[^a-z]党|協会|連盟|株式会社|"
        r"[ァ-ヺー]{2,}[・=＝][ァ-ヺー]{2,}|[ァ-ヺー]{3,}(?:が|は)"
    ),
    REASON: re.compile(
        r"ため|から[、。]|ので|理由|背景|原因|要因|せい|おかげ|メリット|目的|狙い|意図|"
        r"によって|により|ことから|ことで|のは[^。]*から"
    ),
    WAY: re.compile(r"によって|により|ことで|を通じ|を用い|を使|方法|手段|方式|形で|ように|を経て"),
}


def asks(question: str) -> str | None:
    """The kind of answer a question asks for (see KINDS), or None when it asks for none."""
    for kind, pattern in _ASK_RES:
        if pattern.search(question):
            return kind
    return None


def holds(kind: str | None, sentence: str) -> bool:
    """Whether a sentence states an answer of that kind (a thing: any sentence may)."""
    pattern = _HOLDS.get(kind or "")
    return bool(pattern and pattern.search(sentence))
