"""MovieLens loading: folders and zips, the rating matrix, and errors that name file and line."""

import dataclasses
import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick.data import load_dataset, split_title
from reelpick.errors import DataError
from tests.support.fixtures import ML_SMALL


def test_real_ml_latest_small(ml_small) -> None:
    assert len(ml_small.movies) == 9742
    assert len(ml_small.ratings) == 100_836
    matrix = ml_small.matrix
    assert matrix.matrix.shape == (610, 9742)
    assert matrix.matrix.dtype == np.float32
    assert matrix.matrix.nnz == 100_836
    toy_story = ml_small.movies.loc[1]
    assert (toy_story["name"], toy_story["year"]) == ("Toy Story", 1995)
    assert toy_story["genres"] == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")
    assert (toy_story["imdb_id"], toy_story["tmdb_id"]) == (114709, 862)
    assert ml_small.label(2571) == "The Matrix (1999)"
    assert ml_small.links(1)["IMDb"] == "https://www.imdb.com/title/tt0114709/"
    # A rating lands in the right cell.
    row, col = matrix.row(1), matrix.column(2571)
    assert matrix.matrix[row, col] == 5.0


@pytest.mark.parametrize("shift", [0, 10**12], ids=["small ids", "huge ids"])
def test_every_rating_lands_in_its_cell_in_any_order(ml_small, shift: int) -> None:
    """The matrix and the counts against a construction that shares no code with them,
    with the ratings shuffled and (``huge ids``) ids far beyond any lookup table."""
    rng = np.random.default_rng(0)
    ratings = ml_small.ratings.sample(frac=1.0, random_state=0).reset_index(drop=True)
    ratings["userId"] = ratings["userId"] + shift
    ratings["movieId"] = ratings["movieId"] + shift
    movies = ml_small.movies.set_axis(ml_small.movies.index + shift)
    dataset = dataclasses.replace(ml_small, movies=movies, ratings=ratings, fingerprint="x")
    users = np.unique(ratings["userId"])
    rows = {u: r for r, u in enumerate(users)}
    cols = {m: c for c, m in enumerate(movies.index)}
    got = dataset.matrix
    assert got.user_ids.tolist() == users.tolist()
    picked = rng.choice(len(ratings), 500, replace=False)
    for i in picked:
        user, movie, stars = ratings.loc[i, ["userId", "movieId", "rating"]]
        assert got.matrix[rows[int(user)], cols[int(movie)]] == stars
    assert got.matrix.nnz == len(ratings) and got.matrix.has_sorted_indices
    expected = ratings["movieId"].value_counts().reindex(movies.index, fill_value=0)
    assert dataset.rating_counts.tolist() == expected.tolist()


def test_movie_is_one_row_of_movies(ml_small) -> None:
    row = ml_small.movie(2571)
    assert isinstance(row, pd.Series)
    assert (row["name"], row["year"], row["tmdb_id"]) == ("The Matrix", 1999, 603)
    with pytest.raises(KeyError):
        ml_small.movie(999_999_999)


def test_zip_and_folder_give_the_same_data(tmp_path: Path, ml_small) -> None:
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in ML_SMALL.glob("*.csv"):
            zf.write(file, f"ml-latest-small/{file.name}")
    zipped = load_dataset(archive)
    assert zipped.fingerprint == ml_small.fingerprint
    assert zipped.matrix.matrix.nnz == ml_small.matrix.matrix.nnz


def test_fingerprint_changes_with_the_data(small_movielens: Path) -> None:
    before = load_dataset(small_movielens).fingerprint
    ratings = small_movielens / "ratings.csv"
    lines = ratings.read_text().splitlines()
    ratings.write_text("\n".join(lines[:-1]) + "\n")
    assert load_dataset(small_movielens).fingerprint != before


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Matrix, The (1999)", ("The Matrix", 1999)),
        ("Seven (a.k.a. Se7en) (1995)", ("Seven (a.k.a. Se7en)", 1995)),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            ("The City of Lost Children (Cité des enfants perdus, La)", 1995),
        ),
        ("Babylon 5", ("Babylon 5", None)),
    ],
)
def test_split_title(title: str, expected: tuple) -> None:
    assert split_title(title) == expected


def _break(folder: Path, name: str, line_no: int, new_line: str) -> None:
    file = folder / name
    lines = file.read_text().splitlines()
    lines[line_no - 1] = new_line
    file.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("name", "line_no", "new_line", "expected"),
    [
        ("ratings.csv", 5, "1,2,four,964982703", r"ratings\.csv: line 5: rating is 'four'"),
        (
            "ratings.csv",
            7,
            "1,2,4.0",
            r"ratings\.csv: line 7: wrong number of fields \(3, expected 4\)$",
        ),
        ("ratings.csv", 1, "user,movie,rating,timestamp", r"ratings\.csv: line 1: header is"),
        (
            "ratings.csv",
            3,
            "1,9999,4.0,964982703",
            r"ratings\.csv: line 3: movieId 9999 is not in movies\.csv",
        ),
        ("ratings.csv", 4, "1,2,7.5,964982703", r"ratings\.csv: line 4: rating 7\.5 is outside"),
        ("movies.csv", 3, "x1,Broken (1990),Drama", r"movies\.csv: line 3: movieId is 'x1'"),
        ("links.csv", 2, "1,tt1,862", r"links\.csv: line 2: imdbId is 'tt1'"),
        (
            "ratings.csv",
            5,
            "99999999999999999999999,2,4.0,964982703",
            r"ratings\.csv: line 5: userId is '99999999999999999999999', out of range$",
        ),
        (
            "ratings.csv",
            6,
            "1,2,4.0,1,5",
            r"ratings\.csv: line 6: wrong number of fields \(5, expected 4\)$",
        ),
    ],
)
def test_malformed_files_name_file_and_line(
    small_movielens: Path, name: str, line_no: int, new_line: str, expected: str
) -> None:
    _break(small_movielens, name, line_no, new_line)
    with pytest.raises(DataError, match=expected):
        load_dataset(small_movielens)


def test_bad_utf8_names_its_real_line(small_movielens: Path) -> None:
    # Far past pandas' first read chunk, whose offsets once made every such error "line 1".
    ratings = small_movielens / "ratings.csv"
    lines = ratings.read_bytes().split(b"\n")
    lines = lines[:1] + lines[1:] * 200  # ~100,000 rows (duplicates are never reached)
    bad_line = len(lines) - 3
    lines[bad_line - 1] = b"1,2,4.0,96498\xff2703"
    ratings.write_bytes(b"\n".join(lines))
    with pytest.raises(
        DataError, match=rf"ratings\.csv: line {bad_line}: not valid UTF-8 \(byte 0xff\)$"
    ):
        load_dataset(small_movielens)


def test_duplicate_rating_is_reported(small_movielens: Path) -> None:
    ratings = small_movielens / "ratings.csv"
    lines = ratings.read_text().splitlines()
    ratings.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(DataError, match=rf"line {len(lines) + 1}: user \d+ rated movie \d+ twice"):
        load_dataset(small_movielens)


def test_ratings_in_any_order_load_and_a_repeat_names_its_later_line(
    small_movielens: Path,
) -> None:
    ratings = small_movielens / "ratings.csv"
    header, *rows = ratings.read_text().splitlines()
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    ratings.write_text("\n".join([header, *shuffled]) + "\n")
    assert len(load_dataset(small_movielens).ratings) == len(rows)
    repeated = [*shuffled[:5], shuffled[9], *shuffled[5:]]  # row 9 again, at line 7
    ratings.write_text("\n".join([header, *repeated]) + "\n")
    user, movie = shuffled[9].split(",")[:2]
    with pytest.raises(DataError, match=rf"line 12: user {user} rated movie {movie} twice"):
        load_dataset(small_movielens)


def test_missing_required_file(small_movielens: Path) -> None:
    (small_movielens / "movies.csv").unlink()
    with pytest.raises(DataError, match=r"movies\.csv: file not found"):
        load_dataset(small_movielens)


def test_missing_links_is_a_warning_not_a_failure(
    small_movielens: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (small_movielens / "links.csv").unlink()
    with caplog.at_level(logging.WARNING):
        dataset = load_dataset(small_movielens)
    assert "links.csv: file not found" in caplog.text
    assert dataset.movies["tmdb_id"].isna().all()
    assert dataset.links(1) == {}
    assert dataset.matrix.matrix.nnz == len(dataset.ratings)


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "missing")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="neither a MovieLens folder nor a zip"):
        load_dataset(junk)


def test_with_ratings_makes_a_distinct_subset(ml_small) -> None:
    train = ml_small.ratings.iloc[:50_000]
    subset = ml_small.with_ratings(train, "first half")
    assert subset.fingerprint != ml_small.fingerprint
    assert subset.matrix.matrix.nnz == 50_000
    assert subset.matrix.matrix.shape[1] == len(ml_small.movies)


def test_copy_of_real_data_loads(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ML_SMALL, copy)
    assert load_dataset(copy).fingerprint == load_dataset(ML_SMALL).fingerprint
