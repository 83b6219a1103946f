"""Top-k cosine tables against a brute-force float64 computation, and their on-disk cache."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from reelpick import Neighbour, NeighbourTable, NoAnswer, topk_cosine_dense, topk_cosine_sparse
from reelpick.cache import ArtifactStore
from reelpick.data import load_dataset
from reelpick.plugins.cosine_cf import CosineCF

TOL = 1e-5


def random_ratings(
    seed: int, n_users: int = 30, n_items: int = 25, density: float = 0.3, signed: bool = False
) -> sp.csr_matrix:
    """users x items; half-star ratings, or mean-centred-like values with stored zeros."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[:, 3] = False  # an item nobody rated
    mask[5] = False  # a user who rated nothing
    mask[:, 7] = mask[:, 8]  # items 7 and 8: same raters, same ratings (an exact tie)
    if signed:
        values = rng.choice([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5], size=mask.shape)
    else:
        values = rng.integers(1, 11, size=mask.shape) / 2
    values[:, 7] = values[:, 8]
    rows, cols = np.nonzero(mask)
    # Built from coordinates, so a stored 0.0 stays a stored entry (a co-rating).
    return sp.csr_matrix(
        (values[rows, cols], (rows, cols)), shape=(n_users, n_items), dtype=np.float32
    )


def brute_force(ratings: sp.csr_matrix, min_support: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosines (float64) and which pairs may be neighbours.

    ``min_support`` 0 means every pair of items with ratings (the dense semantics).
    """
    values = ratings.toarray().T.astype(np.float64)  # items x users
    rated = ratings.copy()
    rated.data[:] = 1
    rated = rated.toarray().T
    norms = np.linalg.norm(values, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosines = values @ values.T / np.outer(norms, norms)
    support = rated @ rated.T
    eligible = (support >= min_support) & np.outer(norms > 0, norms > 0)
    np.fill_diagonal(eligible, False)
    return cosines, eligible


def expected_rows(cosines: np.ndarray, eligible: np.ndarray, k: int) -> list[np.ndarray]:
    """Per item: its eligible columns, best first, ties to the lower column, at most k."""
    rows = []
    for i in range(len(cosines)):
        columns = np.flatnonzero(eligible[i])
        order = np.lexsort((columns, -cosines[i, columns]))
        rows.append(columns[order][:k])
    return rows


def check_against_brute_force(
    index: np.ndarray, score: np.ndarray, cosines: np.ndarray, eligible: np.ndarray, k: int
) -> None:
    expected = expected_rows(cosines, eligible, k)
    n_items = len(cosines)
    assert index.shape == score.shape == (n_items, min(k, n_items - 1))
    for i, want in enumerate(expected):
        got = index[i][index[i] >= 0]
        # Neighbours fill the front of the row; the rest is padding with score 0.
        assert (index[i, len(got) :] == -1).all() and (score[i, len(got) :] == 0).all()
        assert len(got) == len(want), f"item {i}"
        assert i not in got
        assert eligible[i, got].all(), f"item {i}: a neighbour below min_support"
        # The scores are the exact cosines of the columns returned, and the best ones.
        np.testing.assert_allclose(score[i, : len(got)], cosines[i, got], atol=TOL)
        np.testing.assert_allclose(score[i, : len(got)], cosines[i, want], atol=TOL)
        assert (np.diff(score[i, : len(got)]) <= 0).all()
        assert (np.abs(score[i]) <= 1).all()


@pytest.mark.parametrize("signed", [False, True], ids=["ratings", "centred"])
@pytest.mark.parametrize("min_support", [1, 3])
@pytest.mark.parametrize("k", [1, 5, 100])
@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_matches_brute_force(seed: int, k: int, min_support: int, signed: bool) -> None:
    ratings = random_ratings(seed, signed=signed)
    index, score = topk_cosine_sparse(ratings, k, min_support)
    cosines, eligible = brute_force(ratings, min_support)
    check_against_brute_force(index, score, cosines, eligible, k)
    # With integer-valued inputs every dot product is exact: ties are exact too, so the
    # whole table, tie order included, must be the brute-force one.
    if not signed:
        for i, want in enumerate(expected_rows(cosines, eligible, k)):
            assert index[i, : len(want)].tolist() == want.tolist(), f"item {i}"


def test_sparse_min_support_filters_pairs() -> None:
    ratings = random_ratings(2, density=0.25)
    loose = topk_cosine_sparse(ratings, 30, 1)[0]
    strict = topk_cosine_sparse(ratings, 30, 4)[0]
    _, eligible = brute_force(ratings, 4)
    assert (strict >= 0).sum() < (loose >= 0).sum()
    for i, row in enumerate(strict):
        assert eligible[i, row[row >= 0]].all()
    # min_support 0 means the same as 1: a pair needs one co-rater to have a cosine at all.
    assert (topk_cosine_sparse(ratings, 30, 0)[0] == loose).all()


def test_sparse_exact_ties_go_to_the_lower_column() -> None:
    # Items 1, 2 and 3 are copies of one another; item 0 overlaps them partly.
    base = np.array([5, 4, 0, 3, 1, 0, 2], dtype=np.float32)
    other = np.array([5, 0, 1, 3, 0, 2, 2], dtype=np.float32)
    ratings = sp.csr_matrix(np.column_stack([other, base, base, base]))
    index, score = topk_cosine_sparse(ratings, 1)
    assert index[:, 0].tolist() == [1, 2, 1, 1]
    index, score = topk_cosine_sparse(ratings, 2)
    assert index.tolist() == [[1, 2], [2, 3], [1, 3], [1, 2]]
    assert score[1].tolist() == [1.0, 1.0]


def exact_rows(ratings: sp.csr_matrix, min_support: int, k: int) -> list[list[int]]:
    """The expected table in exact rational arithmetic (integer-valued ratings only):
    columns ordered by cosine (compared through sign(d) d^2 / |j|^2), ties to the lower."""
    values = (ratings.toarray().T * 2).astype(np.int64)  # half stars -> integers
    rated = ratings.copy()
    rated.data[:] = 1
    support = (rated.toarray().T @ rated.toarray()).astype(int)
    squares = (values**2).sum(axis=1)
    rows = []
    for i in range(len(values)):
        keys = {}
        for j in range(len(values)):
            if j != i and squares[i] and squares[j] and support[i, j] >= max(min_support, 1):
                d = int(values[i] @ values[j])
                keys[j] = Fraction(d * abs(d), int(squares[j]))
        rows.append(sorted(keys, key=lambda j: (-keys[j], j))[:k])
    return rows


@pytest.mark.parametrize("min_support", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_tie_order_is_exact(seed: int, min_support: int) -> None:
    # Few raters and few distinct ratings: many cosines are equal, most with irrational norms.
    rng = np.random.default_rng(seed)
    dense = rng.choice([0, 0, 0, 1, 2, 4], size=(6, 40)).astype(np.float32)
    ratings = sp.csr_matrix(dense)
    index, _ = topk_cosine_sparse(ratings, 8, min_support)
    for i, want in enumerate(exact_rows(ratings, min_support, 8)):
        assert index[i][index[i] >= 0].tolist() == want, f"item {i}"


def test_sparse_equal_cosines_with_irrational_norms_go_to_the_lower_column() -> None:
    # Items 0, 1 and 2 are (5, 5), (4, 4), (1, 1) for users 0 and 1: every one has the same
    # cosine with item 3, though their norms are 5*sqrt(2), 4*sqrt(2) and sqrt(2).
    dense = np.array([[5, 4, 1, 3], [5, 4, 1, 2], [0, 0, 0, 1]], dtype=np.float32)
    index, score = topk_cosine_sparse(sp.csr_matrix(dense), 3)
    assert index[3].tolist() == [0, 1, 2]
    assert score[3, 0] == score[3, 1] == score[3, 2]
    assert topk_cosine_sparse(sp.csr_matrix(dense), 1)[0][3].tolist() == [0]


def test_sparse_empty_inputs_and_k_zero() -> None:
    empty = sp.csr_matrix((4, 3), dtype=np.float32)
    index, score = topk_cosine_sparse(empty, 5)
    assert index.shape == (3, 2) and (index == -1).all() and (score == 0).all()
    index, score = topk_cosine_sparse(random_ratings(0), 0)
    assert index.shape == score.shape == (25, 0)
    with pytest.raises(ValueError, match="k must be"):
        topk_cosine_sparse(random_ratings(0), -1)


def test_sparse_merges_duplicate_entries_without_touching_the_input() -> None:
    duplicated = sp.csr_matrix(
        (np.array([1, 2, 3, 4, 5], np.float32), np.array([0, 0, 0, 1, 1]), np.array([0, 2, 4, 5])),
        shape=(3, 2),
    )
    before = duplicated.data.copy()
    # User 0 rated item 0 "twice" (1 + 2 = 3): the pair (0, 1) has one co-rater, user 1.
    assert topk_cosine_sparse(duplicated, 1, min_support=2)[0].tolist() == [[-1], [-1]]
    index, score = topk_cosine_sparse(duplicated, 1)
    expected = (3 * 0 + 3 * 4) / (np.hypot(3, 3) * np.hypot(4, 5))
    assert index.tolist() == [[1], [0]]
    np.testing.assert_allclose(score[:, 0], expected, rtol=1e-6)
    assert (duplicated.data == before).all() and len(duplicated.data) == 5


def test_sparse_is_deterministic_across_thread_counts() -> None:
    ratings = random_ratings(3, n_users=60, n_items=80, density=0.2)
    many = topk_cosine_sparse(ratings, 10, 2)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = topk_cosine_sparse(ratings, 10, 2)
    finally:
        numba.set_num_threads(threads)
    assert (many[0] == one[0]).all() and (many[1] == one[1]).all()


@pytest.mark.parametrize("k", [1, 4, 100])
@pytest.mark.parametrize("seed", [0, 1])
def test_dense_matches_brute_force(seed: int, k: int) -> None:
    ratings = random_ratings(seed, signed=seed == 1)
    vectors = ratings.toarray().T
    index, score = topk_cosine_dense(vectors, k)
    cosines, eligible = brute_force(ratings, 0)
    usable = np.linalg.norm(vectors, axis=1) > 0
    assert index.shape == (len(vectors), min(k, usable.sum() - 1))
    # Dense works in float32 with BLAS: near-equal cosines may come in another order,
    # so compare scores, and check each returned column's exact cosine.
    for i, want in enumerate(expected_rows(cosines, eligible, k)):
        got = index[i][index[i] >= 0]
        assert len(got) == len(want) and i not in got and eligible[i, got].all()
        np.testing.assert_allclose(score[i, : len(got)], cosines[i, got], atol=TOL)
        np.testing.assert_allclose(score[i, : len(got)], cosines[i, want], atol=TOL)
        assert (np.diff(score[i, : len(got)]) <= 0).all()


def test_dense_scores_stay_within_one_for_parallel_vectors() -> None:
    rng = np.random.default_rng(6)
    vectors = rng.random((30, 37)).astype(np.float32) * 5
    vectors = np.vstack([vectors, vectors * 3, -vectors])
    index, score = topk_cosine_dense(vectors, 3)
    assert (np.abs(score) <= 1).all()
    assert (index[:30, 0] == np.arange(30, 60)).all()  # its multiple, cosine 1
    np.testing.assert_allclose(score[:30, 0], 1, atol=TOL)


def test_dense_respects_valid_mask() -> None:
    vectors = random_ratings(4).toarray().T
    valid = np.ones(len(vectors), dtype=bool)
    valid[[0, 10]] = False
    index, _ = topk_cosine_dense(vectors, 50, valid=valid)
    assert (index[[0, 10]] == -1).all()
    assert not np.isin(index, [0, 10]).any()


def test_sparse_and_dense_agree_where_both_apply() -> None:
    # With dense rows everyone co-rates everything, so both compute the same cosines.
    rng = np.random.default_rng(5)
    vectors = rng.integers(1, 11, size=(40, 12)).astype(np.float32) / 2  # items x users
    sparse_index, sparse_score = topk_cosine_sparse(sp.csr_matrix(vectors.T), 8)
    dense_index, dense_score = topk_cosine_dense(vectors, 8)
    np.testing.assert_allclose(sparse_score, dense_score, atol=TOL)
    assert (sparse_index[:, :3] == dense_index[:, :3]).mean() > 0.95


def make_store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "cache", "cosine-cf", fingerprint="abc", version="1")


def test_table_round_trip(tmp_path: Path) -> None:
    ratings = random_ratings(0)
    movie_ids = np.arange(100, 125)
    table = NeighbourTable(movie_ids, *topk_cosine_sparse(ratings, 5))
    store = make_store(tmp_path)
    table.save(store)
    loaded = NeighbourTable.load(store)
    assert loaded is not None
    assert (loaded.movie_ids == movie_ids).all()
    assert (loaded.index == table.index).all() and (loaded.score == table.score).all()
    assert loaded.lookup(100, 3) == table.lookup(100, 3)
    assert len(loaded.lookup(100, 3)) == 3
    assert loaded.lookup(103, 3) == []  # nobody rated it
    assert loaded.lookup(99, 3) is None  # not in the table


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_damaged_table_is_detected(tmp_path: Path, damage: str) -> None:
    store = make_store(tmp_path)
    NeighbourTable(np.arange(25), *topk_cosine_sparse(random_ratings(0), 5)).save(store)
    file = store.path / "neighbours.npz"
    raw = bytearray(file.read_bytes())
    if damage == "flip":
        # Inside the score array's bytes, past its header: only the zip CRC can tell.
        at = raw.rindex(b"<f4") + 200
        raw[at] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw = bytearray(b"not a zip at all" * 10)
    file.write_bytes(bytes(raw))
    assert NeighbourTable.load(store) is None
    assert not file.exists()  # removed, so the next fit writes a fresh one


def test_plugin_rebuilds_a_damaged_table(tmp_path: Path, small_movielens: Path) -> None:
    dataset = load_dataset(small_movielens)
    # The plugin's own defaults, as the registry hands them over, with a small table.
    defaults = CosineCF().reelpick_plugin_info().params
    params = {**defaults, "neighbours": 10, "adjusted": False, "min_support": 2}
    store = make_store(tmp_path)
    first = CosineCF()
    first.reelpick_fit(dataset, params, store)
    file = store.path / "neighbours.npz"
    good = file.read_bytes()
    file.write_bytes(good[: len(good) - 100])
    second = CosineCF()
    second.reelpick_fit(dataset, params, store)
    assert (second.table.index == first.table.index).all()
    assert file.read_bytes() == good
    movie = int(dataset.movies.index[0])
    assert second.reelpick_similar(movie, 5) == first.reelpick_similar(movie, 5)


def test_similar_answers_or_says_why_not() -> None:
    """The one copy of a plugin's ``reelpick_similar`` over a table: the neighbours, or a
    NoAnswer naming the movie unknown or alone."""
    table = NeighbourTable(
        np.array([10, 20, 30]),
        np.array([[1, -1], [0, -1], [-1, -1]]),
        np.array([[0.5, 0.0], [0.5, 0.0], [0.0, 0.0]], dtype=np.float32),
    )
    assert table.similar(10, 5, unknown="?", alone="!") == [Neighbour(20, 0.5)]
    with pytest.raises(NoAnswer, match="^unknown movie$"):
        table.similar(99, 5, unknown="unknown movie", alone="alone")
    with pytest.raises(NoAnswer, match="^alone$"):
        table.similar(30, 5, unknown="unknown movie", alone="alone")


def test_a_table_refuses_unsorted_movie_ids() -> None:
    """Lookups binary-search the ids: a table over unsorted ids would answer wrong movies."""
    with pytest.raises(ValueError, match="sorted ascending"):
        NeighbourTable(np.array([20, 10]), np.full((2, 1), -1), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="sorted ascending"):
        NeighbourTable(np.array([10, 10]), np.full((2, 1), -1), np.zeros((2, 1)))
