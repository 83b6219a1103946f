"""Importing Letterboxd, IMDb and MovieLens files into profiles, matched against the real
ml-latest-small. Every fixture file is written here, with real-looking rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelpick.data.search import TitleIndex
from reelpick.profiles import (
    MovieMatcher,
    ProfileImportError,
    ProfileStore,
    import_profile,
    read_import,
)

OWNER = "local:me"
HEAT, TOY_STORY, PULP_FICTION, MATRIX, AMELIE, CROUCHING_TIGER = 6, 1, 296, 2571, 4973, 3996

LETTERBOXD_RATINGS = (
    "Date,Name,Year,Letterboxd URI,Rating\r\n"
    "2021-03-01,Heat,1995,https://boxd.it/29YU,4.5\r\n"
    "2021-03-02,Toy Story,1995,https://boxd.it/2a1m,5\r\n"
    "\r\n"
    "2021-03-03,Parasite,2019,https://boxd.it/hTha,5\r\n"
    "2021-03-04,The Matrix,1999,https://boxd.it/2bcA,7\r\n"
    '2021-03-05,"Crouching Tiger, Hidden Dragon",2000,https://boxd.it/1Yjy,3.5\r\n'
    "2021-03-06,Emma,1996,https://boxd.it/1sS8,3\r\n"
    "2021-03-07,Pulp Fiction,1994,https://boxd.it/2aHi,3.7\r\n"
)

IMDB_HEADER = (
    "Const,Your Rating,Date Rated,Title,Original Title,URL,Title Type,IMDb Rating,"
    "Runtime (mins),Year,Genres,Num Votes,Release Date,Directors\n"
)


def imdb_row(const: str, rating: str, title: str, year: str, kind: str = "Movie") -> str:
    return (
        f'{const},{rating},2022-05-01,"{title}","{title}",https://www.imdb.com/title/{const}/,'
        f'{kind},8.3,170,{year},"Crime, Drama",700000,{year}-12-15,"Someone"\n'
    )


@pytest.fixture(scope="module")
def matcher(ml_small) -> MovieMatcher:
    return MovieMatcher(ml_small, TitleIndex(ml_small))


@pytest.fixture
def store(tmp_path: Path):
    with ProfileStore(tmp_path) as opened:
        yield opened


# -- Letterboxd -----------------------------------------------------------------------------
def test_letterboxd_ratings_match_by_title_and_year(matcher: MovieMatcher) -> None:
    parsed = read_import(LETTERBOXD_RATINGS.encode(), matcher, filename="ratings.csv")
    assert parsed.format == "letterboxd"
    assert parsed.rows == 7  # the blank line is not a row
    assert {(r.movie_id, r.stars) for r in parsed.matched} == {
        (HEAT, 4.5),
        (TOY_STORY, 5.0),
        (CROUCHING_TIGER, 3.5),  # quoted title with a comma
    }
    reasons = {u.row: u.reason for u in parsed.unmatched}
    # Rows are numbered as a spreadsheet shows them: header 1, the blank line 4.
    assert reasons[5].startswith("no movie titled 'Parasite' (2019) in the catalogue")
    assert reasons[6] == "rating 7 is outside 0.5–5"
    assert reasons[8].startswith("ambiguous: 'Emma' (1996) could be Emma (1996)")
    assert "tt0116191" in reasons[8] and "tt0118308" in reasons[8]
    assert reasons[9] == "rating 3.7 is not on the 0.5–5 scale (whole or half stars)"
    assert {u.text for u in parsed.unmatched} >= {"Parasite (2019)", "Emma (1996)"}


def test_a_wrong_year_is_not_accepted_but_the_closest_is_named(matcher: MovieMatcher) -> None:
    data = b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,Heat,1996,https://boxd.it/x,4\n"
    parsed = read_import(data, matcher)
    assert parsed.matched == []
    assert parsed.unmatched[0].reason == (
        "no movie titled 'Heat' (1996) in the catalogue (the closest is Heat (1995))"
    )


def test_letterboxd_watched_rows_are_seen(matcher: MovieMatcher) -> None:
    data = (
        b"Date,Name,Year,Letterboxd URI\n"
        b"2019-01-01,Heat,1995,https://boxd.it/29YU\n"
        b"2019-01-02,The Matrix,1999,https://boxd.it/2bcA\n"
    )
    parsed = read_import(data, matcher, filename="watched.csv")
    assert [(r.movie_id, r.kind, r.stars) for r in parsed.matched] == [
        (HEAT, "seen", None),
        (MATRIX, "seen", None),
    ]


def test_watched_after_ratings_keeps_the_ratings(matcher: MovieMatcher, store) -> None:
    import_profile(store, OWNER, LETTERBOXD_RATINGS.encode(), matcher)
    watched = (
        b"Date,Name,Year,Letterboxd URI\n"
        b"2019-01-01,Heat,1995,https://boxd.it/29YU\n"
        b"2019-01-02,Pulp Fiction,1994,https://boxd.it/2aHi\n"
    )
    result = import_profile(store, OWNER, watched, matcher, filename="watched.csv")
    assert result.changed == 1  # Pulp Fiction only: Heat keeps its 4.5
    profile = store.profile(OWNER)
    assert profile.ratings[HEAT] == 4.5 and profile.seen == {PULP_FICTION}


def test_a_letterboxd_watchlist_is_refused(matcher: MovieMatcher) -> None:
    data = b"Date,Name,Year,Letterboxd URI\n2019-01-01,Heat,1995,https://boxd.it/29YU\n"
    with pytest.raises(ProfileImportError, match="watchlist"):
        read_import(data, matcher, filename="watchlist.csv")


def test_a_diary_keeps_the_rating_over_a_later_unrated_rewatch(matcher: MovieMatcher) -> None:
    data = (
        b"Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n"
        b"2020-01-01,Heat,1995,https://boxd.it/a,4,,,2020-01-01\n"
        b"2020-02-01,Heat,1995,https://boxd.it/b,,Yes,,2020-02-01\n"
        b"2020-03-01,Toy Story,1995,https://boxd.it/c,3,,,2020-03-01\n"
        b"2020-04-01,Toy Story,1995,https://boxd.it/d,3.5,Yes,,2020-04-01\n"
    )
    parsed = read_import(data, matcher, filename="diary.csv")
    assert parsed.matched_rows == 4
    assert {(r.movie_id, r.kind, r.stars) for r in parsed.matched} == {
        (HEAT, "rating", 4.0),
        (TOY_STORY, "rating", 3.5),  # the later rating wins
    }
    assert any("earlier row" in note for note in parsed.notes)


def test_a_bom_is_ignored(matcher: MovieMatcher) -> None:
    parsed = read_import(b"\xef\xbb\xbf" + LETTERBOXD_RATINGS.encode(), matcher)
    assert parsed.format == "letterboxd" and len(parsed.matched) == 3
    assert parsed.notes == []


def test_a_cp1252_file_is_read_and_the_fallback_is_said(matcher: MovieMatcher) -> None:
    data = (
        "Date,Name,Year,Letterboxd URI,Rating\r\n2020-01-01,Amélie,2001,https://boxd.it/x,4.5\r\n"
    ).encode("cp1252")
    parsed = read_import(data, matcher, filename="ratings.csv")
    assert [(r.movie_id, r.stars) for r in parsed.matched] == [(AMELIE, 4.5)]
    assert parsed.notes == ["ratings.csv is not UTF-8; it was read as Windows-1252"]


def test_utf16_from_excel_is_read(matcher: MovieMatcher) -> None:
    parsed = read_import(LETTERBOXD_RATINGS.encode("utf-16"), matcher)
    assert len(parsed.matched) == 3 and "UTF-16" in parsed.notes[0]


# -- IMDb -----------------------------------------------------------------------------------
def test_imdb_matches_by_tt_id_and_halves_the_rating(matcher: MovieMatcher) -> None:
    data = (
        IMDB_HEADER
        + imdb_row("tt0113277", "9", "Heat", "1995")
        + imdb_row("tt0133093", "10", "The Matrix", "1999")
        + imdb_row("tt0110912", "1", "Pulp Fiction", "1994")
        # Not in links.csv: found by title and year instead.
        + imdb_row("tt9999999", "8", "Toy Story", "1995")
        + imdb_row("tt6751668", "9", "Parasite", "2019")
        + imdb_row("tt0114709", "11", "Toy Story", "1995")
        + imdb_row("tt0959621", "10", "Pilot", "2008", kind="TV Episode")
    ).encode()
    parsed = read_import(data, matcher, filename="ratings.csv")
    assert parsed.format == "imdb"
    assert {(r.movie_id, r.stars) for r in parsed.matched} == {
        (HEAT, 4.5),
        (MATRIX, 5.0),
        (PULP_FICTION, 0.5),
        (TOY_STORY, 4.0),
    }
    reasons = {u.row: u.reason for u in parsed.unmatched}
    assert reasons[6].startswith("no movie titled 'Parasite' (2019)")
    assert reasons[7] == "rating 11 is outside 1–10"
    assert reasons[8] == "tt0959621 is a TV Episode, not a film"


def test_imdb_half_points_are_refused(matcher: MovieMatcher) -> None:
    data = (IMDB_HEADER + imdb_row("tt0113277", "7.5", "Heat", "1995")).encode()
    parsed = read_import(data, matcher)
    assert parsed.unmatched[0].reason == "rating 7.5 is not on the 1–10 scale (whole numbers)"


# -- MovieLens ------------------------------------------------------------------------------
def test_movielens_rows_by_movie_id(matcher: MovieMatcher) -> None:
    data = b"userId,movieId,rating,timestamp\n7,6,4.0,964982703\n7,1,2.5,964981247\n7,999999999,3,0\n7,2571,abc,0\n"
    parsed = read_import(data, matcher)
    assert parsed.format == "movielens"
    assert {(r.movie_id, r.stars) for r in parsed.matched} == {(HEAT, 4.0), (TOY_STORY, 2.5)}
    assert [(u.row, u.reason) for u in parsed.unmatched] == [
        (4, "movieId '999999999' is not in the catalogue"),
        (5, "rating 'abc' is not a number"),
    ]


def test_a_whole_movielens_ratings_file_is_refused(matcher: MovieMatcher, store) -> None:
    data = b"userId,movieId,rating,timestamp\n1,6,4.0,964982703\n2,1,2.5,964981247\n"
    with pytest.raises(ProfileImportError, match="ratings of 2 users"):
        import_profile(store, OWNER, data, matcher)
    assert store.owners_count() == 0


def test_an_explicit_format_is_checked_against_the_columns(matcher: MovieMatcher) -> None:
    data = b"movieId,rating\n6,4\n"
    assert read_import(data, matcher, format="movielens").matched[0].movie_id == HEAT
    with pytest.raises(ProfileImportError, match="expected an IMDb ratings export"):
        read_import(data, matcher, format="imdb")
    with pytest.raises(ProfileImportError, match="unknown import format 'csv'"):
        read_import(data, matcher, format="csv")


# -- whole imports --------------------------------------------------------------------------
def test_a_second_import_of_the_same_file_changes_nothing(matcher: MovieMatcher, store) -> None:
    first = import_profile(store, OWNER, LETTERBOXD_RATINGS.encode(), matcher)
    assert (first.rows, first.matched, first.changed) == (7, 3, 3)
    before = store.entries(OWNER)
    second = import_profile(store, OWNER, LETTERBOXD_RATINGS.encode(), matcher)
    assert (second.matched, second.changed) == (3, 0)
    assert store.entries(OWNER) == before


def test_the_file_wins_for_the_movies_it_names(matcher: MovieMatcher, store) -> None:
    store.rate(OWNER, HEAT, 1)
    store.mark_not_interested(OWNER, TOY_STORY)
    store.rate(OWNER, MATRIX, 2)
    result = import_profile(store, OWNER, LETTERBOXD_RATINGS.encode(), matcher)
    assert result.changed == 3  # Heat and Toy Story rewritten, Crouching Tiger added
    ratings = store.profile(OWNER).ratings
    assert ratings[HEAT] == 4.5 and ratings[TOY_STORY] == 5 and ratings[MATRIX] == 2


def test_the_report_serialises_to_the_json_shape(matcher: MovieMatcher, store) -> None:
    result = import_profile(store, OWNER, LETTERBOXD_RATINGS.encode(), matcher)
    shape = json.loads(json.dumps(result.to_json()))
    assert shape["rows"] == 7 and shape["matched"] == 3 and shape["changed"] == 3
    assert shape["unmatched"][0] == {"row": 5, "reason": shape["unmatched"][0]["reason"]}
    assert [u["row"] for u in shape["unmatched"]] == [5, 6, 8, 9]


def test_a_path_can_be_imported(matcher: MovieMatcher, tmp_path: Path) -> None:
    file = tmp_path / "ratings.csv"
    file.write_bytes(LETTERBOXD_RATINGS.encode())
    assert len(read_import(file, matcher).matched) == 3


def test_imports_of_two_people_stay_apart(matcher: MovieMatcher, store) -> None:
    import_profile(store, "tg:1", LETTERBOXD_RATINGS.encode(), matcher)
    import_profile(store, "tg:2", b"movieId,rating\n6,1\n", matcher)
    assert store.profile("tg:1").ratings[HEAT] == 4.5
    assert dict(store.profile("tg:2").ratings) == {HEAT: 1.0}


# -- refused files: one exception, nothing stored -------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Title,Stars\nHeat,4\n", "has the columns 'Title', 'Stars'; expected a Letterboxd"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a text file"),
        (b"PK\x03\x04\x14\x00\x00\x00", "zip archive"),
        (b"Date,Name,Year,Letterboxd URI,Rating\r\n\r\n", "no rows below"),
        (b"", "is empty"),
        (b"\n\n  \n", "is empty"),
    ],
    ids=["wrong-columns", "binary", "zip", "header-only", "empty", "blank"],
)
def test_a_file_that_is_not_a_rating_file_is_refused_whole(
    matcher: MovieMatcher, store, data: bytes, message: str
) -> None:
    store.rate(OWNER, MATRIX, 3)
    with pytest.raises(ProfileImportError, match=message):
        import_profile(store, OWNER, data, matcher, filename="upload.csv")
    assert dict(store.profile(OWNER).ratings) == {MATRIX: 3.0}


def test_an_oversize_file_is_refused_before_reading(
    matcher: MovieMatcher, store, tmp_path: Path
) -> None:
    data = LETTERBOXD_RATINGS.encode() * 50
    with pytest.raises(ProfileImportError, match="the limit for an import is 1000 bytes"):
        import_profile(store, OWNER, data, matcher, max_bytes=1000)
    file = tmp_path / "big.csv"
    file.write_bytes(b"x" * 20 * 1024 * 1024)
    with pytest.raises(ProfileImportError, match=r"big.csv is 20.0 MB; the limit .* 10.0 MB"):
        read_import(file, matcher)
    assert store.owners_count() == 0


def test_a_long_header_is_shortened_in_the_message(matcher: MovieMatcher) -> None:
    data = (",".join(f"column{i}" for i in range(40)) + "\n" + "1," * 39 + "1\n").encode()
    with pytest.raises(ProfileImportError) as raised:
        read_import(data, matcher)
    assert "'column11', ..." in str(raised.value) and "column12" not in str(raised.value)


def test_too_many_rows_are_refused_whole(matcher: MovieMatcher, store) -> None:
    data = b"movieId,rating\n" + b"6,4\n" * 11
    with pytest.raises(
        ProfileImportError, match="has more than 10 rows; an import takes at most 10"
    ):
        import_profile(store, OWNER, data, matcher, max_rows=10)
    assert store.owners_count() == 0


def test_an_exact_name_and_year_settle_what_the_search_doubts(matcher: MovieMatcher) -> None:
    # The search alone is not confident: "Dead Man Walking" (1995) is better known.
    data = b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,The Walking Dead,1995,u,3\n"
    (row,) = read_import(data, matcher).matched
    assert matcher.dataset.label(row.movie_id) == "The Walking Dead (1995)"


def test_catalogue_titles_match_themselves_and_never_another_movie(
    matcher: MovieMatcher, ml_small
) -> None:
    """Every 30th movie of ml-latest-small, written as Letterboxd would write it."""
    movies = ml_small.movies.dropna(subset=["year"]).iloc[::30]
    lines = ["Date,Name,Year,Letterboxd URI,Rating"] + [
        f'2020-01-01,"{name}",{year},https://boxd.it/x,4'
        for name, year in zip(movies["name"], movies["year"], strict=True)
    ]
    parsed = read_import("\n".join(lines).encode(), matcher)
    wanted = {row: int(m) for row, m in enumerate(movies.index, start=2)}
    assert all(wanted[r.row] == r.movie_id for r in parsed.matched)
    # Only true ambiguities (two films of one name and year) may stay unmatched.
    assert all(u.reason.startswith("ambiguous") for u in parsed.unmatched)
    assert parsed.matched_rows >= len(movies) - 2
