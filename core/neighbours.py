"""Top-k cosine neighbour tables, computed without ever holding an items x items matrix.

Every built-in plugin answers a query from such a table: row i holds the k columns most
similar to item i (never i itself), best first. -1 pads rows with fewer than k neighbours.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from .cache import ArtifactStore
from .types import Neighbour

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
    return index, score


def topk_cosine_sparse(
    ratings: sp.csr_matrix, k: int, min_support: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item-item cosine neighbours from a users x items sparse matrix.

    For each item, dot products with every co-rated item are accumulated user by user
    (cost: the sum over users of their number of ratings squared), then the k best are
    kept. Pairs rated together by fewer than ``min_support`` users are ignored.
    """
    by_user = sp.csr_matrix(ratings, dtype=np.float32)
    by_user.sum_duplicates()
    by_item = by_user.T.tocsr()
    norms = np.sqrt(np.asarray(by_item.multiply(by_item).sum(axis=1)).ravel()).astype(np.float32)
    return _topk_kernel(
        by_item.indptr,
        by_item.indices,
        by_item.data,
        by_user.indptr,
        by_user.indices,
        by_user.data,
        norms,
        k,
        min_support,
        numba.get_num_threads() * 8,
    )


@numba.njit(parallel=True, cache=True, nogil=True)
def _topk_kernel(
    item_ptr,
    item_users,
    item_vals,
    user_ptr,
    user_items,
    user_vals,
    norms,
    k,
    min_support,
    n_chunks,
):
    n_items = len(item_ptr) - 1
    index = np.full((n_items, k), -1, dtype=np.int32)
    score = np.zeros((n_items, k), dtype=np.float32)
    # Items are dealt out in chunks so that each thread reuses one set of scratch arrays.
    for chunk in numba.prange(n_chunks):
        dots = np.zeros(n_items, dtype=np.float32)
        counts = np.zeros(n_items, dtype=np.int32)
        touched = np.empty(n_items, dtype=np.int32)
        for i in range(chunk, n_items, n_chunks):
            if norms[i] == 0:
                continue
            n_touched = 0
            for p in range(item_ptr[i], item_ptr[i + 1]):
                u = item_users[p]
                r_ui = item_vals[p]
                for q in range(user_ptr[u], user_ptr[u + 1]):
                    j = user_items[q]
                    if counts[j] == 0:
                        touched[n_touched] = j
                        n_touched += 1
                    counts[j] += 1
                    dots[j] += r_ui * user_vals[q]
            n_kept = 0
            for t in range(n_touched):
                j = touched[t]
                if j != i and counts[j] >= min_support and norms[j] > 0:
                    n_kept = _insert(index[i], score[i], n_kept, j, dots[j] / (norms[i] * norms[j]))
                dots[j] = 0
                counts[j] = 0
    return index, score


@numba.njit(inline="always")
def _insert(best_index, best_score, n_kept, j, s):
    """Insert (j, s) into a row kept sorted best first; ties go to the lower column."""
    k = len(best_index)
    if n_kept == k:
        last = best_score[k - 1]
        if s < last or (s == last and j > best_index[k - 1]):
            return n_kept
        pos = k - 1
    else:
        pos = n_kept
        n_kept += 1
    while pos > 0 and (
        best_score[pos - 1] < s or (best_score[pos - 1] == s and best_index[pos - 1] > j)
    ):
        best_index[pos] = best_index[pos - 1]
        best_score[pos] = best_score[pos - 1]
        pos -= 1
    best_index[pos] = j
    best_score[pos] = s
    return n_kept


class NeighbourTable:
    """A fitted top-k table over ``movie_ids``: answering a query is a row lookup.

    ``index[i]`` holds positions into ``movie_ids`` (best first, -1 for none) and
    ``score[i]`` their similarities.
    """

    def __init__(self, movie_ids: np.ndarray, index: np.ndarray, score: np.ndarray) -> None:
        self.movie_ids = np.asarray(movie_ids, dtype=np.int64)
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

    def has_neighbours(self, movie_id: int) -> bool:
        pos = self.position(movie_id)
        return pos is not None and bool(self.index[pos, 0] >= 0) if self.index.shape[1] else False

    def save(self, store: ArtifactStore, name: str = "neighbours") -> None:
        store.save_arrays(name, movie_ids=self.movie_ids, index=self.index, score=self.score)

    @classmethod
    def load(cls, store: ArtifactStore, name: str = "neighbours") -> NeighbourTable | None:
        arrays = store.load_arrays(name)
        if arrays is None or not {"movie_ids", "index", "score"} <= arrays.keys():
            return None
        return cls(arrays["movie_ids"], arrays["index"], arrays["score"])
