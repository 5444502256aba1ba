"""Outlet filters as people type them: any case or width, a prefix, the site's domain or romaji."""

from __future__ import annotations

import jaconv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import Filters
from index.errors import OutletError
from index.ingest.outlets import KNOWN_OUTLETS
from index.retrieval import outlet_names

# Every outlet of the table, as an index holding them all would list them.
OUTLETS = list(dict.fromkeys(KNOWN_OUTLETS.values()))
DOMAINS = [(domain, name) for domain, name in KNOWN_OUTLETS.items()]


def wide(text: str) -> str:
    """ASCII as full-width letters and digits, kana as half-width (what IMEs and pastes give)."""
    return jaconv.z2h(jaconv.h2z(text, kana=False, ascii=True, digit=True), kana=True)


CASES = [str, str.upper, str.lower, str.swapcase, wide]


def resolved(typed: str) -> str | OutletError:
    try:
        return Filters(outlet=typed).resolve(OUTLETS).outlet
    except OutletError as e:
        return e


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OUTLETS), st.sampled_from(CASES), st.data())
def test_a_name_or_its_beginning_in_any_case_or_width_means_that_outlet(outlet, case, data):
    whole = case(outlet)
    assert resolved(whole) == outlet
    cut = data.draw(st.integers(1, len(outlet)))
    typed = case(outlet[:cut])
    got = resolved(typed)
    # A beginning several outlets share offers them all; it never picks another outlet.
    offered = isinstance(got, OutletError) and got.ambiguous and outlet in got.choices
    assert got == outlet or offered
    assert outlet in Filters.choices(typed, OUTLETS)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(DOMAINS), st.sampled_from(["", "www.", "https://", "https://www."]))
def test_the_sites_domain_or_a_link_to_it_means_its_outlet(entry, before):
    domain, outlet = entry
    assert resolved(f"{before}{domain}") == outlet
    assert resolved(f"{before}{domain}/articles/1?x=2".upper()) == outlet


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(OUTLETS), st.sampled_from(CASES))
def test_the_romaji_of_its_site_offers_the_outlet(outlet, case):
    """mainichi, nikkei, yomiuri, tbs: each name in the site's domain, in any case or width."""
    for key in outlet_names.keys(outlet):
        assert outlet in Filters.choices(case(key), OUTLETS)


@pytest.mark.parametrize(
    ("typed", "outlet"),
    [
        ("TBS", "TBS NEWS DIG"),
        ("tbs news", "TBS NEWS DIG"),
        ("毎日", "毎日新聞"),
        ("FNN", "FNNプライムオンライン"),
        ("mainichi", "毎日新聞"),
        ("Mainichi.jp", "毎日新聞"),
        ("nikkei", "日本経済新聞"),
        ("yomiuri", "読売新聞"),
        ("ｎｈｋ", "NHK"),
        ("Reuters", "Reuters"),  # its own name, though ロイター's site is reuters too
    ],
)
def test_aliases_people_type(typed, outlet):
    assert resolved(typed) == outlet


def test_an_ambiguous_name_offers_its_choices_and_an_unknown_one_every_outlet():
    tele = resolved("テレ")
    assert isinstance(tele, OutletError) and tele.ambiguous
    assert set(tele.choices) == {"テレ朝NEWS", "テレ東BIZ"}
    assert "テレ朝NEWS" in str(tele) and "テレ東BIZ" in str(tele)
    seed = ["FNNプライムオンライン", "TBS NEWS DIG", "毎日新聞"]
    with pytest.raises(OutletError) as unknown:
        Filters(outlet="朝日").resolve(seed)
    assert not unknown.value.ambiguous and unknown.value.choices == tuple(seed)
    assert all(name in str(unknown.value) for name in seed)


def test_no_outlet_and_an_exact_name_are_left_as_they_are():
    assert Filters().resolve(OUTLETS) == Filters()
    exact = Filters(outlet="毎日新聞")
    assert exact.resolve(OUTLETS) is exact
