"""Title search on the real ml-latest-small titles, plus the normal form on its own."""

from __future__ import annotations

import pytest

from reelpick.data import Dataset
from reelpick.data.search import MAX_QUERY, Candidate, SearchResult, TitleIndex, aliases, normalise


@pytest.fixture(scope="module")
def index(ml_small: Dataset) -> TitleIndex:
    return TitleIndex(ml_small)


def top(index: TitleIndex, query: str) -> SearchResult:
    found = index.search(query)
    assert found.candidates, f"nothing found for {query!r}"
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Matrix, The", "matrix"),
        ("the matrix!", "matrix"),
        ("Amélie", "amelie"),
        ("  Schindler's   List ", "schindlers list"),
        ("The Godfather: Part II", "godfather 2"),
        ("godfather part ii", "godfather 2"),
        ("Star Wars: Episode IV - A New Hope", "star wars episode 4 a new hope"),
        ("Malcolm X", "malcolm 10"),
        ("X-Men", "x men"),
        ("I, Robot", "i robot"),
        ("Fast & Furious", "fast and furious"),
        ("Ærø Østergård", "aero ostergard"),
        ("🎬🍿", ""),
        ("The", "the"),
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_aliases_cover_alternative_titles():
    assert aliases("Seven (a.k.a. Se7en) (1995)") == ["seven", "se7en"]
    assert aliases("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == [
        "amelie",
        "fabuleux destin damelie poulain",
    ]
    assert aliases("Godfather: Part II, The (1974)") == ["godfather 2"]


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("the matrix", "The Matrix (1999)"),
        ("Matrix, The (1999)", "The Matrix (1999)"),
        ("MATRIX", "The Matrix (1999)"),
        ("the matirx", "The Matrix (1999)"),  # typo: WRatio put "M (1931)" first
        ("amelie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
        ("Amélie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
        ("heat", "Heat (1995)"),
        ("the heat", "The Heat (2013)"),
        ("heat 1995", "Heat (1995)"),
        ("heat (1995)", "Heat (1995)"),
        ("heat 2013", "The Heat (2013)"),
        ("seven", "Seven (a.k.a. Se7en) (1995)"),
        ("se7en", "Seven (a.k.a. Se7en) (1995)"),
        ("Seven (a.k.a. Se7en) (1995)", "Seven (a.k.a. Se7en) (1995)"),
        ("godfather", "The Godfather (1972)"),
        ("godfather 2", "The Godfather: Part II (1974)"),
        ("godfather part ii", "The Godfather: Part II (1974)"),
        ("The Godfather: Part II", "The Godfather: Part II (1974)"),
        ("godfather part 3", "The Godfather: Part III (1990)"),
        ("hamlet 1996", "Hamlet (1996)"),
        ("toy story", "Toy Story (1995)"),
        ("toy sto", "Toy Story (1995)"),
        ("jurasic park", "Jurassic Park (1993)"),
        ("forest gump", "Forrest Gump (1994)"),
        ("spiderman", "Spider-Man (2002)"),
        ("schindlers list", "Schindler's List (1993)"),
        ("la haine", "Hate (Haine, La) (1995)"),
        ("leon", "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)"),
        ("blade runner 2049", "Blade Runner 2049 (2017)"),
        ("kill bill 1", "Kill Bill: Vol. 1 (2003)"),
        ("back to the future part 2", "Back to the Future Part II (1989)"),
        ("o brother, where art thou?", "O Brother, Where Art Thou? (2000)"),
        ("rocky 2", "Rocky II (1979)"),
        ("malcolm x", "Malcolm X (1992)"),
        ("i robot", "I, Robot (2004)"),
        ("pulp fic", "Pulp Fiction (1994)"),
    ],
)
def test_confident_matches(index, query, label):
    found = top(index, query)
    assert found.candidates[0].label == label
    assert found.confident and found.best == found.candidates[0]


def test_typo_finds_the_matrix_not_short_titles(index):
    for query in ("the matirx", "teh matrix", "matrixx", "the matrx"):
        labels = [c.label for c in top(index, query).candidates]
        assert labels[0] == "The Matrix (1999)", query
        assert "M (1931)" not in labels


def test_exact_name_with_same_article_beats_exact_name_without(index):
    found = top(index, "heat")
    assert [c.label for c in found.candidates[:2]] == ["Heat (1995)", "The Heat (2013)"]
    assert found.candidates[0].score > found.candidates[1].score
    assert top(index, "the heat").candidates[1].label == "Heat (1995)"


def test_several_movies_of_one_name_stay_ambiguous(index):
    found = top(index, "hamlet")
    assert not found.confident and found.best is None
    hamlets = [c for c in found.candidates if c.label.startswith("Hamlet (")]
    assert len(hamlets) >= 4
    assert {c.score for c in hamlets} == {100.0}
    # Most rated first among equals, so the bot's buttons start with the likely one.
    assert found.candidates[0].label == "Hamlet (1996)"


@pytest.mark.parametrize("query", ["star wars", "harry potter", "lord of the rings", "x2"])
def test_broad_queries_ask_and_list_the_options(index, query):
    found = top(index, query)
    assert not found.confident
    assert len(found.candidates) >= 2
    scores = [c.score for c in found.candidates]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 100 for s in scores)


def test_lord_of_the_rings_lists_the_well_known_films(index):
    """The 1978 film has the exact name, but the bot should ask rather than pick it."""
    labels = [c.label for c in top(index, "lord of the rings").candidates]
    assert labels[0] == "The Lord of the Rings (1978)"
    assert "The Lord of the Rings: The Fellowship of the Ring (2001)" in labels


@pytest.mark.parametrize(
    ("query", "must_hold"),
    [("star wa", "Star Wars"), ("lord of the ri", "The Lord of the Rings"), ("harry pot", "Harry")],
)
def test_unfinished_last_word(index, query, must_hold):
    found = top(index, query)
    assert all(must_hold in c.label for c in found.candidates)


def test_exact_names_always_outrank_fuzzy_ones(index):
    found = top(index, "toy story")
    assert found.candidates[0].score == 100
    assert all(c.score <= 94 for c in found.candidates[1:])
    assert {"Toy Story 2 (1999)", "Toy Story 3 (2010)"} <= {c.label for c in found.candidates}


@pytest.mark.parametrize(
    "query", ["", "   ", "\n\t", "🎬🍿", "!!!", "?", None, "x" * 10_000, "heat " * 2_000]
)
def test_bad_input_gives_a_sensible_result(index, query):
    found = index.search(query)  # type: ignore[arg-type]
    assert isinstance(found, SearchResult)
    assert len(found.query) <= MAX_QUERY
    if query is None or not any(c.isalnum() for c in query):
        assert found.candidates == [] and not found.confident
    for candidate in found.candidates:
        assert isinstance(candidate, Candidate) and candidate.movie_id in index._labels


def test_unknown_title_is_not_confident(index):
    found = index.search("qwzzkx plorbnik")
    assert not found.confident
    assert all(c.score < 80 for c in found.candidates)


def test_limit_and_result_shape(index, ml_small):
    found = index.search("star", limit=3)
    assert len(found.candidates) == 3
    for candidate in found.candidates:
        assert candidate.label == ml_small.label(candidate.movie_id)
    assert len(index) == len(ml_small.movies)
