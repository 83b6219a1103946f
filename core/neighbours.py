"""Top-k cosine neighbour tables, computed without ever holding an items x items matrix.

Every built-in plugin answers a query from such a table: row i holds the k columns most
similar to item i (never i itself), best first. -1 pads rows with fewer than k neighbours.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

import numba
import numpy as np
import scipy.sparse as sp

from .cache import ArtifactStore
from .errors import NoAnswer
from .types import Neighbour, Recommendation

# A block of dense similarities is at most this many float32 values (256 MiB).
BLOCK_VALUES = 1 << 26


def topk_cosine_dense(
    vectors: np.ndarray, k: int, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k cosine neighbours of each row of ``vectors`` (items x features).

    Rows are compared block by block with BLAS. Rows that are all zero, or excluded by
    the boolean mask ``valid``, neither get nor give neighbours.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    norms = np.linalg.norm(vectors, axis=1)
    usable = norms > 0 if valid is None else (norms > 0) & valid
    unit = np.zeros_like(vectors)
    unit[usable] = vectors[usable] / norms[usable, None]
    k = min(k, max(int(usable.sum()) - 1, 0))
    index = np.full((n, k), -1, dtype=np.int32)
    score = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return index, score
    block = max(1, BLOCK_VALUES // max(n, 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = unit[start:stop] @ unit.T
        sims[:, ~usable] = -np.inf
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        index[start:stop] = np.take_along_axis(top, order, axis=1)
        score[start:stop] = np.take_along_axis(top_scores, order, axis=1)
    index[~usable] = -1
    score[~usable] = 0
    score[index < 0] = 0
    # float32 rounding can put parallel vectors a few units past 1.
    np.clip(score, -1.0, 1.0, out=score)
    return index, score


def topk_cosine_sparse(
    ratings: sp.csr_matrix, k: int, min_support: int = 1, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item-item cosine neighbours from a users x items sparse matrix.

    For each item, dot products with every co-rated item are accumulated user by user
    (cost: the sum over users of their number of ratings squared), then the k best are
    kept, ties going to the lower column. Pairs rated together by fewer than
    ``min_support`` users are ignored (a pair needs at least one co-rater in any case).
    Rows of items without ratings, and any slot beyond an item's neighbours, hold -1.

    ``rows`` (item positions) restricts the work to those items: the result then has one row
    per entry of ``rows``, each exactly as in the full table (the Spark engine computes the
    table in blocks of items this way, see :func:`cosine_inputs`).
    """
    return topk_cosine_prepared(cosine_inputs(ratings), k, min_support, rows)


def cosine_inputs(ratings: sp.csr_matrix) -> dict[str, np.ndarray]:
    """The arrays the kernel reads: the ratings by item and by user (CSR) and item norms.

    Plain named arrays, so that they can be saved, shipped to other machines and
    memory-mapped there (:func:`topk_cosine_prepared` accepts them as loaded).
    """
    by_user = sp.csr_matrix(ratings, dtype=np.float32)
    if not by_user.has_canonical_format:
        # A user rating an item twice would count twice as support; merge, on a copy.
        by_user = by_user.copy()
        by_user.sum_duplicates()
    by_item = by_user.T.tocsr()
    return {
        "item_ptr": by_item.indptr,
        "item_users": by_item.indices,
        "item_vals": by_item.data,
        "user_ptr": by_user.indptr,
        "user_items": by_user.indices,
        "user_vals": by_user.data,
        "sq_norms": _squared_norms(by_item.indptr, by_item.data),
    }


def topk_cosine_prepared(
    inputs: dict[str, np.ndarray], k: int, min_support: int = 1, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`topk_cosine_sparse` on arrays made by :func:`cosine_inputs`."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    n_items = len(inputs["item_ptr"]) - 1
    k = min(k, max(n_items - 1, 0))
    rows = np.arange(n_items, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_items):
        raise ValueError(f"rows must lie in [0, {n_items})")
    return _topk_kernel(
        rows,
        _unsigned(np.asarray(inputs["item_ptr"])),
        _unsigned(np.asarray(inputs["item_users"])),
        np.asarray(inputs["item_vals"]),
        _unsigned(np.asarray(inputs["user_ptr"])),
        _unsigned(np.asarray(inputs["user_items"])),
        np.asarray(inputs["user_vals"]),
        np.asarray(inputs["sq_norms"]),
        k,
        max(int(min_support), 1),
        numba.get_num_threads() * 8,
    )


def _unsigned(indices: np.ndarray) -> np.ndarray:
    """int32 indices seen as uint32 (no copy): numba then skips its negative-index check on
    every access, a large share of the inner loop's cost. int64 ones stay as they are,
    since numba would turn uint64 + int arithmetic into floats."""
    return indices.view(np.uint32) if indices.dtype == np.int32 else indices


@numba.njit(cache=True, nogil=True)
def _squared_norms(indptr: np.ndarray, data: np.ndarray) -> np.ndarray:
    squares = np.zeros(len(indptr) - 1, dtype=np.float64)
    for i in range(len(indptr) - 1):
        for p in range(indptr[i], indptr[i + 1]):
            squares[i] += np.float64(data[p]) ** 2
    return squares


@numba.njit(parallel=True, cache=True, nogil=True)
def _topk_kernel(
    rows: np.ndarray,
    item_ptr: np.ndarray,
    item_users: np.ndarray,
    item_vals: np.ndarray,
    user_ptr: np.ndarray,
    user_items: np.ndarray,
    user_vals: np.ndarray,
    sq_norms: np.ndarray,
    k: int,
    min_support: int,
    n_chunks: int,
) -> tuple[np.ndarray, np.ndarray]:
    n_items = len(item_ptr) - 1
    index = np.full((len(rows), k), -1, dtype=np.int32)
    score = np.zeros((len(rows), k), dtype=np.float32)
    # Row i is ranked by the key sign(d) d^2 / |j|^2, with d = i.j: the same order as the
    # cosine d / (|i| |j|), since |i| is fixed for the row. With ratings in half stars, d and
    # |j|^2 are exact in float64 and the division is correctly rounded, so equal cosines get
    # equal keys (the tie rule then holds even between, say, (4, 4) and (5, 5) columns).
    # need[j] folds "j has ratings" into the support test.
    inverse = np.zeros(n_items, dtype=np.float64)
    need = np.full(n_items, np.iinfo(np.int32).max, dtype=np.int32)
    for j in range(n_items):
        if sq_norms[j] > 0:
            inverse[j] = 1.0 / np.sqrt(sq_norms[j])
            need[j] = min_support
    # With positive values only, a co-rated pair has a nonzero dot product, so the support
    # counter (a second scattered write per multiply-add) is needed only for min_support > 1.
    count_support = min_support > 1
    for p in range(len(user_vals)):
        if not user_vals[p] > 0:
            count_support = True
            break
    # Items are dealt out in strided chunks, so that every chunk gets a mix of popular and
    # rare items and each thread reuses one set of scratch arrays.
    for chunk in numba.prange(n_chunks):
        dots = np.zeros(n_items, dtype=np.float64)
        counts = np.zeros(n_items, dtype=np.int32)
        estimate = np.empty(n_items, dtype=np.float64)
        # A min-heap of the k best so far, worst at the root. The spare slot k keeps the
        # sift-down's branch-free read of a right child in bounds.
        heap_s = np.full(k + 1, np.inf, dtype=np.float64)
        heap_j = np.full(k + 1, -1, dtype=np.int32)
        for row in range(chunk, len(rows), n_chunks):
            i = rows[row]
            if sq_norms[i] == 0 or k == 0:
                continue
            if count_support:
                for p in range(item_ptr[i], item_ptr[i + 1]):
                    r_ui = np.float64(item_vals[p])
                    u = item_users[p]
                    for q in range(user_ptr[u], user_ptr[u + 1]):
                        j = user_items[q]
                        counts[j] += 1
                        dots[j] += r_ui * user_vals[q]
            else:
                for p in range(item_ptr[i], item_ptr[i + 1]):
                    r_ui = np.float64(item_vals[p])
                    u = item_users[p]
                    for q in range(user_ptr[u], user_ptr[u + 1]):
                        dots[user_items[q]] += r_ui * user_vals[q]
            counts[i] = 0  # never its own neighbour
            dots[i] = 0
            # One pass over all columns (cheaper than tracking touched ones: no unpredictable
            # branch per multiply-add), free of branches so that it vectorises: an estimate
            # d / |j| of each score, the key being computed only where it could win.
            for j in range(n_items):
                support = counts[j] if count_support else np.int32(dots[j] != 0)
                estimate[j] = dots[j] * inverse[j] if support >= need[j] else -np.inf
                counts[j] = 0
            # Columns arrive in increasing order, so a later column with an equal key never
            # displaces an earlier one: ties go to the lower column.
            n = 0
            worst = -np.inf
            bar = -np.finfo(np.float64).max  # lets any finite estimate in until the heap is full
            for j in range(n_items):
                if estimate[j] >= bar:
                    d = dots[j]
                    key = d * abs(d) / sq_norms[j]
                    if key > worst:
                        if n < k:
                            heap_s[n] = key
                            heap_j[n] = j
                            n += 1
                            if n == k:
                                _heapify(heap_s, heap_j, k)
                        else:
                            heap_s[0] = key
                            heap_j[0] = j
                            _sift_down(heap_s, heap_j, 0, k)
                        if n == k:
                            # The estimate of the worst key's column, less a margin far wider
                            # than the rounding of either.
                            worst = heap_s[0]
                            bar = np.copysign(np.sqrt(abs(worst)), worst)
                            bar -= 1e-9 * abs(bar)
            dots[:] = 0
            if n < k:
                _heapify(heap_s, heap_j, n)
            # Heap sort: repeatedly move the worst to the end, leaving the row best first.
            for end in range(n - 1, 0, -1):
                s, j = heap_s[0], heap_j[0]
                heap_s[0], heap_j[0] = heap_s[end], heap_j[end]
                heap_s[end], heap_j[end] = s, j
                _sift_down(heap_s, heap_j, 0, end)
            for t in range(n):
                index[row, t] = heap_j[t]
                key = heap_s[t]
                score[row, t] = np.copysign(np.sqrt(abs(key) / sq_norms[i]), key)
    return index, score


@numba.njit(inline="always")
def _worse(s_a: float, j_a: int, s_b: float, j_b: int) -> bool:
    """(s_a, j_a) ranks below (s_b, j_b): a lower score, or the same score at a higher column."""
    return (s_a < s_b) | ((s_a == s_b) & (j_a > j_b))


@numba.njit(inline="always")
def _sift_down(heap_s: np.ndarray, heap_j: np.ndarray, pos: int, size: int) -> None:
    """Restore the min-heap below ``pos`` over entries [0, size); slot ``size`` must exist."""
    s, j = heap_s[pos], heap_j[pos]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        # Pick the worse child without a branch (the comparisons are unpredictable).
        child += (child + 1 < size) & _worse(
            heap_s[child + 1], heap_j[child + 1], heap_s[child], heap_j[child]
        )
        if not _worse(heap_s[child], heap_j[child], s, j):
            break
        heap_s[pos], heap_j[pos] = heap_s[child], heap_j[child]
        pos = child
    heap_s[pos], heap_j[pos] = s, j


@numba.njit(inline="always")
def _heapify(heap_s: np.ndarray, heap_j: np.ndarray, size: int) -> None:
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(heap_s, heap_j, pos, size)


def _as_array(movie_ids: Collection[int]) -> np.ndarray:
    return np.fromiter((int(m) for m in movie_ids), dtype=np.int64, count=len(movie_ids))


def _positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each of ``wanted`` in ``sorted_ids``, -1 where absent."""
    found = np.searchsorted(sorted_ids, wanted)
    found = np.minimum(found, max(len(sorted_ids) - 1, 0))
    hit = (sorted_ids[found] == wanted) if len(sorted_ids) else np.zeros(len(wanted), bool)
    return np.where(hit, found, -1)


class NeighbourTable:
    """A fitted top-k table over ``movie_ids``: answering a query is a row lookup.

    ``movie_ids`` must be sorted ascending without repeats: a lookup binary-searches them.
    ``index[i]`` holds positions into ``movie_ids`` (best first, -1 for none) and
    ``score[i]`` their similarities.
    """

    def __init__(self, movie_ids: np.ndarray, index: np.ndarray, score: np.ndarray) -> None:
        self.movie_ids = np.asarray(movie_ids, dtype=np.int64)
        if len(self.movie_ids) > 1 and not bool(np.all(np.diff(self.movie_ids) > 0)):
            raise ValueError("NeighbourTable needs movie_ids sorted ascending, without repeats")
        self.index = np.asarray(index, dtype=np.int32)
        self.score = np.asarray(score, dtype=np.float32)

    def position(self, movie_id: int) -> int | None:
        pos = int(np.searchsorted(self.movie_ids, movie_id))
        if pos < len(self.movie_ids) and self.movie_ids[pos] == movie_id:
            return pos
        return None

    def lookup(self, movie_id: int, k: int) -> list[Neighbour] | None:
        """Up to ``k`` neighbours of ``movie_id``, or None if the movie is not in the table."""
        pos = self.position(movie_id)
        if pos is None:
            return None
        row, scores = self.index[pos, :k], self.score[pos, :k]
        keep = row >= 0
        return [
            Neighbour(int(m), float(s))
            for m, s in zip(self.movie_ids[row[keep]], scores[keep], strict=True)
        ]

    def similar(self, movie_id: int, k: int, *, unknown: str, alone: str) -> list[Neighbour]:
        """The answer to ``reelpick_similar`` from this table: up to ``k`` neighbours.

        Raises :class:`~reelpick.errors.NoAnswer` with ``unknown`` when the movie is not in the
        table, and with ``alone`` when it is but has no neighbours (its row is empty).
        """
        found = self.lookup(movie_id, k)
        if found is None:
            raise NoAnswer(unknown)
        if not found:
            raise NoAnswer(alone)
        return found

    def recommend(
        self,
        weights: Mapping[int, float],
        k: int,
        exclude: Collection[int] = (),
        *,
        combine: Literal["sum", "max"] = "sum",
        reasons: int = 3,
    ) -> list[Recommendation]:
        """Up to ``k`` movies for a person, from the neighbours of the movies in ``weights``.

        ``weights`` maps profile movies to how much each counts (negative: pushes its
        neighbours down). A candidate m scores ``sum_j weight_j * sim(j, m)`` over the profile
        movies j that list m among their neighbours (``combine="max"``: the largest such term).
        Only candidates with a positive score come back, best first (ties: lower movie id),
        never a movie of ``exclude`` or of ``weights``; ``because`` names up to ``reasons``
        profile movies with the largest positive terms. Profile movies missing from the
        table are ignored; an empty list means nothing scored above zero.
        """
        if combine not in ("sum", "max"):
            raise ValueError(f"combine must be 'sum' or 'max', got {combine!r}")
        ids = np.fromiter((int(m) for m in weights), dtype=np.int64, count=len(weights))
        values = np.fromiter((float(w) for w in weights.values()), np.float64, len(weights))
        known = _positions(self.movie_ids, ids)
        sources, values, source_ids = known[known >= 0], values[known >= 0], ids[known >= 0]
        width = self.index.shape[1]
        if k <= 0 or not len(sources) or width == 0:
            return []
        rows = self.index[sources]
        terms = (self.score[sources].astype(np.float64) * values[:, None])[rows >= 0]
        origin = np.repeat(np.arange(len(sources)), width)[(rows >= 0).ravel()]
        candidates = rows[rows >= 0]
        n = len(self.movie_ids)
        if combine == "sum":
            total = np.bincount(candidates, weights=terms, minlength=n)
        else:
            total = np.full(n, -np.inf)
            np.maximum.at(total, candidates, terms)
        banned = np.concatenate([known, _positions(self.movie_ids, _as_array(exclude))])
        eligible = np.zeros(n, dtype=bool)
        eligible[candidates] = True
        eligible[banned[banned >= 0]] = False
        eligible &= total > 0
        chosen = np.flatnonzero(eligible)
        if len(chosen) > k:  # argpartition first: the candidates can be thousands
            chosen = chosen[np.argpartition(-total[chosen], k - 1)[:k]]
            # Everything tied with the k-th score competes for the last places by movie id.
            chosen = np.flatnonzero(eligible & (total >= total[chosen].min()))
        chosen = chosen[np.lexsort((self.movie_ids[chosen], -total[chosen]))][:k]
        found = []
        for position in chosen:
            mine = (candidates == position) & (terms > 0)
            reason_ids = source_ids[origin[mine]]
            best = np.lexsort((reason_ids, -terms[mine]))[:reasons]
            because = tuple(int(m) for m in reason_ids[best])
            found.append(
                Recommendation(int(self.movie_ids[position]), float(total[position]), because)
            )
        return found

    def has_neighbours(self, movie_id: int) -> bool:
        pos = self.position(movie_id)
        return pos is not None and bool(self.index[pos, 0] >= 0) if self.index.shape[1] else False

    def save(self, store: ArtifactStore, name: str = "neighbours") -> None:
        store.save_arrays(name, movie_ids=self.movie_ids, index=self.index, score=self.score)

    @classmethod
    def load(cls, store: ArtifactStore, name: str = "neighbours") -> NeighbourTable | None:
        """The table saved under ``name``, or None when absent or damaged.

        A file that loads but does not hold a consistent table (wrong shapes or dtypes,
        unsorted ids, a position out of range, a non-finite score) would fail every query
        on every run; it is deleted like a corrupted one, so that the plugin fits again.
        """
        arrays = store.load_arrays(name)
        if arrays is None:
            return None
        problem = _table_problem(arrays)
        if problem is not None:
            store.discard(name, problem)
            return None
        return cls(arrays["movie_ids"], arrays["index"], arrays["score"])


def _table_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """Why ``arrays`` is not a usable neighbour table, or None when it is one."""
    missing = {"movie_ids", "index", "score"} - arrays.keys()
    if missing:
        return f"no {', '.join(sorted(missing))} array"
    movie_ids, index, score = arrays["movie_ids"], arrays["index"], arrays["score"]
    if movie_ids.ndim != 1 or movie_ids.dtype.kind not in "iu":
        return f"movie_ids is {movie_ids.dtype} {movie_ids.shape}, not a vector of integers"
    if index.ndim != 2 or index.dtype.kind not in "iu" or len(index) != len(movie_ids):
        return f"index is {index.dtype} {index.shape} for {len(movie_ids)} movies"
    if score.shape != index.shape or score.dtype.kind != "f":
        return f"score is {score.dtype} {score.shape}, index {index.shape}"
    if len(movie_ids) > 1 and not bool(np.all(np.diff(movie_ids) > 0)):
        return "movie_ids are not sorted and unique"
    if index.size and (int(index.min()) < -1 or int(index.max()) >= len(movie_ids)):
        return f"a neighbour position is outside -1..{len(movie_ids) - 1}"
    if not bool(np.all(np.isfinite(score))):
        return "a score is not finite"
    return None
