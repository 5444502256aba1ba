"""Known Japanese news sites by host, for pages that do not name their outlet."""

from __future__ import annotations

KNOWN_OUTLETS: dict[str, str] = {
    "nhk.or.jp": "NHK",
    "www3.nhk.or.jp": "NHK",
    "asahi.com": "朝日新聞",
    "mainichi.jp": "毎日新聞",
    "yomiuri.co.jp": "読売新聞",
    "nikkei.com": "日本経済新聞",
    "sankei.com": "産経新聞",
    "tokyo-np.co.jp": "東京新聞",
    "jiji.com": "時事通信",
    "kyodonews.jp": "共同通信",
    "nordot.app": "共同通信",
    "fnn.jp": "FNNプライムオンライン",
    "newsdig.tbs.co.jp": "TBS NEWS DIG",
    "news.tv-asahi.co.jp": "テレ朝news",
    "news.ntv.co.jp": "日テレNEWS",
    "txbiz.tv-tokyo.co.jp": "テレ東BIZ",
    "news.yahoo.co.jp": "Yahoo!ニュース",
    "bunshun.jp": "文春オンライン",
    "toyokeizai.net": "東洋経済オンライン",
    "itmedia.co.jp": "ITmedia",
    "impress.co.jp": "Impress Watch",
    "japantimes.co.jp": "The Japan Times",
    "hokkaido-np.co.jp": "北海道新聞",
    "nishinippon.co.jp": "西日本新聞",
    "chunichi.co.jp": "中日新聞",
    "kahoku.news": "河北新報",
}


def outlet_for_host(host: str) -> str | None:
    """The outlet of a host or of the nearest parent domain in the table ("www.x.jp" → x.jp's)."""
    labels = host.lower().rstrip(".").split(".")
    for start in range(len(labels) - 1):
        name = KNOWN_OUTLETS.get(".".join(labels[start:]))
        if name:
            return name
    return None
