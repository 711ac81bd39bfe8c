"""Product search: tokenizing, scoring and ranking."""

import random
import string
from types import SimpleNamespace

import pytest

from catalog import search


def item(sku, name, description=""):
    return SimpleNamespace(sku=sku, name=name, description=description)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Cordless Drill", ["cordless", "drill"]),
        ("the drill and the saw", ["drill", "saw"]),
        ("Crème brûlée", ["creme", "brulee"]),
        ("M8x40 bolts, 100-pack", ["m8x40", "bolts", "100", "pack"]),
        ("", []),
        ("of the and", []),
    ],
)
def test_tokens(text, expected):
    assert search.tokens(text) == expected


def test_normalize_strips_accents_and_case():
    assert search.normalize("ÉCOLE Straße") == "ecole straße"


def test_exact_name_match_scores_three():
    assert search.score(["drill"], "Drill") == 3.0


def test_description_match_scores_one():
    assert search.score(["drill"], "Hammer", "not a drill") == 1.0


def test_prefix_match_scores_half():
    assert search.score(["dri"], "Drill") == 1.5


def test_no_match_scores_zero():
    assert search.score(["violin"], "Drill", "tools") == 0


def test_scores_add_up_over_query_words():
    assert search.score(["cordless", "drill"], "Cordless drill") == 6.0


def test_rank_orders_by_score_then_sku():
    products = [item("B", "drill"), item("A", "drill"), item("C", "hammer", "drill bits")]
    assert [p.sku for p in search.rank("drill", products)] == ["A", "B", "C"]


def test_rank_drops_non_matches():
    assert search.rank("saw", [item("A", "drill")]) == []


def test_rank_with_only_stop_words_is_empty():
    assert search.rank("the and", [item("A", "the drill")]) == []


def test_rank_is_stable_for_equal_scores():
    products = [item(f"S{i}", "saw") for i in range(5)]
    assert [p.sku for p in search.rank("saw", products)] == ["S0", "S1", "S2", "S3", "S4"]


@pytest.mark.parametrize("query", ["DRILL", "drill", "Drill", "  drill  "])
def test_query_case_and_spacing_do_not_matter(query):
    assert [p.sku for p in search.rank(query, [item("A", "Drill")])] == ["A"]


@pytest.mark.slow
def test_rank_a_large_catalog():
    rng = random.Random(7)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(400)]
    products = [
        item(f"P{i:05d}", " ".join(rng.choices(words, k=4)), " ".join(rng.choices(words, k=12))) for i in range(12000)
    ]
    ranked = search.rank(f"{words[0]} {words[1][:3]}", products)
    scores = [search.score(search.tokens(f"{words[0]} {words[1][:3]}"), p.name, p.description) for p in ranked]
    assert ranked and scores == sorted(scores, reverse=True)
