"""Hostile import files: every cap holds while the file is streamed, every odd cell gets a
short reason naming its row, and the good rows of the same file are still imported."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from reelpick.data.search import TitleIndex
from reelpick.profiles import MovieMatcher, ProfileImportError, ProfileStore, import_profile
from reelpick.profiles import matching as matching_module
from reelpick.profiles.imports import MAX_CELL, MAX_LINE, MAX_REASON, read_import

OWNER = "local:me"
HEAT, TOY_STORY = 6, 1
LETTERBOXD = "Date,Name,Year,Letterboxd URI,Rating\n"
GOOD_ROW = "2021-03-01,Heat,1995,https://boxd.it/29YU,4.5\n"


@pytest.fixture(scope="module")
def matcher(ml_small) -> MovieMatcher:
    return MovieMatcher(ml_small, TitleIndex(ml_small))


@pytest.fixture
def store(tmp_path: Path):
    with ProfileStore(tmp_path) as opened:
        yield opened


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2021-03-02,Toy Story,²,u,4\n", "year '²' is not a year"),
        ("2021-03-02,Toy Story,¹⁹⁹⁵,u,4\n", "year '¹⁹⁹⁵' is not a year"),
        ("2021-03-02,Toy Story,1995,u,²\n", "rating '²' is not a number"),
        (f"2021-03-02,Toy Story,{'9' * 450},u,4\n", "year '" + "9" * 40 + "…' is not a year"),
        (f"2021-03-02,Toy Story,1995,u,{'4' * 450}\n", "rating '" + "4" * 40 + "…' is not"),
    ],
    ids=["superscript-year", "superscript-1995", "superscript-rating", "long-year", "long-rating"],
)
def test_odd_numbers_make_their_row_unmatched_and_keep_the_rest(
    matcher: MovieMatcher, row: str, reason: str
) -> None:
    parsed = read_import((LETTERBOXD + GOOD_ROW + row).encode(), matcher)
    assert [r.movie_id for r in parsed.matched] == [HEAT]
    (unmatched,) = parsed.unmatched
    assert unmatched.row == 3 and unmatched.reason.startswith(reason)
    assert len(unmatched.reason) < 100


@pytest.mark.parametrize(
    "movie_id", ["²", "¹⁹⁹⁵", "١", "9" * 450, "-6"], ids=["sup", "sup4", "arabic", "long", "neg"]
)
def test_odd_movie_ids_make_their_row_unmatched(matcher: MovieMatcher, movie_id: str) -> None:
    parsed = read_import(f"movieId,rating\n6,4\n{movie_id},3\n".encode(), matcher)
    assert [r.movie_id for r in parsed.matched] == [HEAT]
    (unmatched,) = parsed.unmatched
    assert unmatched.row == 3 and "is not in the catalogue" in unmatched.reason
    assert len(unmatched.reason) < 100


def test_a_5000_digit_number_is_one_short_reason(matcher: MovieMatcher) -> None:
    parsed = read_import(f"movieId,rating\n6,4\n{'9' * 5000},3\n".encode(), matcher)
    assert [r.movie_id for r in parsed.matched] == [HEAT]
    assert parsed.unmatched[0].reason == (
        f"the 'movieid' cell is 5,000 characters long; at most {MAX_CELL:,} are read"
    )


def test_a_huge_title_is_one_short_reason_and_stays_out_of_the_cache(
    matcher: MovieMatcher,
) -> None:
    title = "x" * 130_000
    parsed = read_import(f"{LETTERBOXD}{GOOD_ROW}2021,{title},1995,u,4\n".encode(), matcher)
    assert [r.movie_id for r in parsed.matched] == [HEAT]
    (unmatched,) = parsed.unmatched
    assert unmatched.row == 3
    assert unmatched.reason == (
        f"the 'name' cell is 130,000 characters long; at most {MAX_CELL:,} are read"
    )
    assert len(unmatched.text) < 50
    assert all(len(t) <= MAX_CELL for t, _ in matcher._titles)


def test_titles_near_the_cell_limit_get_short_reasons(matcher: MovieMatcher) -> None:
    title = "Zq" * (MAX_CELL // 2)
    parsed = read_import(f"{LETTERBOXD}2021,{title},1995,u,4\n".encode(), matcher)
    (unmatched,) = parsed.unmatched
    assert unmatched.reason.startswith("no movie titled 'ZqZq") and len(unmatched.reason) < 150


def test_the_title_cache_is_bounded_in_bytes(ml_small, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching_module, "MAX_CACHED_BYTES", 20_000)
    matcher = MovieMatcher(ml_small, TitleIndex(ml_small))
    for n in range(60):
        matcher.by_title(f"{n:03d}" + "q" * 400, None)
        assert matcher._cached_bytes <= 20_000
    assert 0 < len(matcher._titles) < 60


def test_a_long_reason_never_spoils_a_committed_import(matcher: MovieMatcher, store) -> None:
    rows = "".join(f"2021,{'Qx' * 240}{n},1995,u,4\n" for n in range(50))
    result = import_profile(store, OWNER, (LETTERBOXD + GOOD_ROW + rows).encode(), matcher)
    assert result.matched == 1 and len(result.unmatched) == 50
    assert all(len(u.reason) <= MAX_REASON and len(u.text) <= 200 for u in result.unmatched)
    assert store.profile(OWNER).ratings[HEAT] == 4.5


def test_invalid_utf16_after_a_bom_is_refused_naming_the_row(matcher: MovieMatcher) -> None:
    good = (LETTERBOXD + GOOD_ROW + GOOD_ROW).encode("utf-16-le")
    data = b"\xff\xfe" + good + b"\x00\xd8\x41\x00"  # a lone high surrogate on row 4
    with pytest.raises(ProfileImportError, match=r"invalid bytes in row 4"):
        read_import(data, matcher, filename="ratings.csv")


def test_the_row_cap_holds_while_streaming(matcher: MovieMatcher) -> None:
    """A 10 MB file of ``6,4`` lines: refused at row 20,001 without holding every row."""
    data = b"movieId,rating\n" + b"6,4\n" * (10 * 1024 * 1024 // 4 - 5)
    tracemalloc.start()
    try:
        with pytest.raises(ProfileImportError, match="more than 20,000 rows"):
            read_import(data, matcher)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The decoded text (10 MB) and the first 20,000 rows; not the 2.6 million rows.
    assert peak < 40 * 1024 * 1024, peak


def test_a_line_past_the_line_cap_is_refused(matcher: MovieMatcher) -> None:
    data = (LETTERBOXD + GOOD_ROW + "a," * (MAX_LINE // 2 + 1) + "\n").encode()
    with pytest.raises(ProfileImportError, match="line 3 is 262,147 characters long"):
        read_import(data, matcher)


def test_a_device_or_a_pipe_is_refused_without_reading(
    matcher: MovieMatcher, tmp_path: Path
) -> None:
    fifo = tmp_path / "ratings.csv"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(ProfileImportError, match="not a regular file"):
            read_import(path, matcher)
