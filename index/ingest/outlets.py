"""Which news outlet a link or host belongs to: a small table of known news sites."""

from __future__ import annotations

from urllib.parse import urlsplit

# Registered domain → the name readers know; a subdomain (www., news., www3.) matches too.
KNOWN_OUTLETS: dict[str, str] = {
    "mainichi.jp": "毎日新聞",
    "newsdig.tbs.co.jp": "TBS NEWS DIG",
    "fnn.jp": "FNNプライムオンライン",
    "nhk.or.jp": "NHK",
    "nhk.jp": "NHK",
    "asahi.com": "朝日新聞",
    "yomiuri.co.jp": "読売新聞",
    "nikkei.com": "日本経済新聞",
    "sankei.com": "産経新聞",
    "kyodonews.jp": "共同通信",
    "kyodonews.net": "共同通信",
    "nordot.app": "共同通信",
    "jiji.com": "時事通信",
    "tokyo-np.co.jp": "東京新聞",
    "chunichi.co.jp": "中日新聞",
    "nishinippon.co.jp": "西日本新聞",
    "hokkaido-np.co.jp": "北海道新聞",
    "kahoku.news": "河北新報",
    "news.ntv.co.jp": "日テレNEWS",
    "news.tv-asahi.co.jp": "テレ朝NEWS",
    "tv-tokyo.co.jp": "テレ東BIZ",
    "news.yahoo.co.jp": "Yahoo!ニュース",
    "jp.reuters.com": "ロイター",
    "reuters.com": "Reuters",
    "bbc.com": "BBC",
    "cnn.co.jp": "CNN",
    "afpbb.com": "AFPBB News",
    "bunshun.jp": "文春オンライン",
    "toyokeizai.net": "東洋経済オンライン",
    "itmedia.co.jp": "ITmedia",
    "impress.co.jp": "Impress Watch",
    "japantimes.co.jp": "The Japan Times",
}
KNOWN = KNOWN_OUTLETS  # the name the Discord layer uses


def outlet_for_host(name: str) -> str | None:
    """The outlet of a host or of the nearest parent domain in the table ("www.x.jp" → x.jp's)."""
    labels = name.lower().rstrip(".").split(".")
    for start in range(len(labels) - 1):
        outlet = KNOWN_OUTLETS.get(".".join(labels[start:]))
        if outlet:
            return outlet
    return None


def host(url: str) -> str:
    """The link's host name without a leading "www." ("" when it has none)."""
    name = (urlsplit(url).hostname or "").lower()
    return name.removeprefix("www.")


def known_outlet(url: str) -> str | None:
    """The outlet named in the table for this link's site, or None."""
    return outlet_for_host(host(url)) if host(url) else None


def outlet_of(url: str, named: str | None = None) -> str:
    """The outlet of a linked page: the table, else the article's outlet when it names exactly
    one (several would be a guess), else the host name."""
    known = known_outlet(url)
    if known:
        return known
    outlets = [o.strip() for o in (named or "").split("、") if o.strip()]
    if len(outlets) == 1:
        return outlets[0]
    return host(url) or url[:40]
