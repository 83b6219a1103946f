"""The numba kernels of SGD-MF: shuffling the ratings and one SGD epoch over them.

Only arrays go in and out, so the kernels know nothing of datasets or parameters; the model
built on them (:mod:`.model`) prepares the arrays and keeps the learned state.
Compiled on first use and cached by numba (``cache=True``) next to this file.
"""

from __future__ import annotations

import numba
import numpy as np


def shuffle(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    users: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ratings laid out user by user in the order ``users``, each user's shuffled.

    Returns block offsets (user ``users[s]`` at ``block[s]:block[s + 1]``), movie columns
    and ratings, in the order the kernel reads them.
    """
    block = np.zeros(len(users) + 1, dtype=np.int64)
    np.cumsum(np.diff(indptr)[users], out=block[1:])
    cols = np.empty(len(indices), dtype=np.int64)
    vals = np.empty(len(data), dtype=np.float32)
    _shuffle_kernel(indptr, indices, data, users, rng.random(len(data)), block, cols, vals)
    return block, cols, vals


@numba.njit(cache=True, nogil=True)
def _shuffle_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    users: np.ndarray,
    uniform: np.ndarray,
    block: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
) -> None:
    for s in range(len(users)):
        u = users[s]
        start, n = block[s], indptr[u + 1] - indptr[u]
        for t in range(n):
            cols[start + t] = indices[indptr[u] + t]
            vals[start + t] = data[indptr[u] + t]
        # Fisher-Yates with the uniform numbers drawn by the caller's seeded generator.
        for t in range(n - 1, 0, -1):
            j = start + int(uniform[start + t] * (t + 1))
            a = start + t
            cols[a], cols[j] = cols[j], cols[a]
            vals[a], vals[j] = vals[j], vals[a]


# Fast-math without "reassoc": sums keep their written order, so results are bit-for-bit
# reproducible whatever the memory alignment of the arrays.
FASTMATH = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}


@numba.njit(inline="always", fastmath=FASTMATH)
def _dot(a: np.ndarray, b: np.ndarray) -> np.float32:
    """Dot product in eight interleaved running sums: vectorisable, yet in a fixed order."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = np.float32(0.0)
    k = len(a)
    full = k - k % 8
    for f in range(0, full, 8):
        s0 += a[f] * b[f]
        s1 += a[f + 1] * b[f + 1]
        s2 += a[f + 2] * b[f + 2]
        s3 += a[f + 3] * b[f + 3]
        s4 += a[f + 4] * b[f + 4]
        s5 += a[f + 5] * b[f + 5]
        s6 += a[f + 6] * b[f + 6]
        s7 += a[f + 7] * b[f + 7]
    for f in range(full, k):
        s0 += a[f] * b[f]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def epoch_plain(
    users: np.ndarray,
    block: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    mu: float,
    bu: np.ndarray,
    bi: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    lr: float,
    regs: np.ndarray,
) -> float:
    """:func:`epoch` without implicit or genre terms: classic biased MF, two passes a rating."""
    k = P.shape[1]
    lr32, reg = np.float32(lr), np.float32(regs[0])
    reg_b = regs[1]
    sq = 0.0
    for s in range(len(users)):
        u = users[s]
        pu = P[u]
        for t in range(block[s], block[s + 1]):
            i = cols[t]
            qi = Q[i]
            e = vals[t] - (mu + bu[u] + bi[i] + _dot(pu, qi))
            sq += e * e
            bu[u] += lr * (e - reg_b * bu[u])
            bi[i] += lr * (e - reg_b * bi[i])
            e32 = np.float32(e)
            for f in range(k):
                p_f, q_f = pu[f], qi[f]
                pu[f] = p_f + lr32 * (e32 * q_f - reg * p_f)
                qi[f] = q_f + lr32 * (e32 * p_f - reg * q_f)
    return sq


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def epoch(
    users: np.ndarray,
    block: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    mu: float,
    bu: np.ndarray,
    bi: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    Y: np.ndarray,
    X: np.ndarray,
    Z: np.ndarray,
    c: np.ndarray,
    g_ptr: np.ndarray,
    g_idx: np.ndarray,
    lr: float,
    regs: np.ndarray,
    use_implicit: bool,
    use_asymmetric: bool,
) -> float:
    """One SGD epoch, user by user; returns the sum of squared errors before each update.

    ``cols``/``vals`` hold the ratings of ``users[s]`` at ``block[s]:block[s + 1]``. The
    implicit sum of a user is gathered once and its gradient applied after their ratings.
    """
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg, reg_y, reg_g = np.float32(regs[0]), np.float32(regs[2]), np.float32(regs[3])
    reg_b, reg_c = regs[1], regs[3]
    # The effective movie and user vectors go to scratch buffers: the update loops then read
    # and write distinct arrays, which lets LLVM vectorise them.
    q = np.empty(k, dtype=np.float32)
    pe = np.empty(k, dtype=np.float32)
    implicit = np.zeros(k, dtype=np.float32)
    grad = np.zeros(k, dtype=np.float32)
    residual = np.zeros(len(vals), dtype=np.float32)
    gather = use_implicit or use_asymmetric
    sq = 0.0
    for s in range(len(users)):
        u = users[s]
        start, stop = block[s], block[s + 1]
        if stop == start:
            continue
        pu = P[u]
        norm = np.float32(1.0 / np.sqrt(stop - start))
        if gather:
            implicit[:] = 0.0
            grad[:] = 0.0
        if use_implicit:
            for t in range(start, stop):
                yj = Y[cols[t]]
                for f in range(k):
                    implicit[f] += yj[f]
        if use_asymmetric:
            for t in range(start, stop):
                j = cols[t]
                residual[t] = vals[t] - (mu + bu[u] + bi[j])
                xj = X[j]
                for f in range(k):
                    implicit[f] += residual[t] * xj[f]
        if gather:
            for f in range(k):
                implicit[f] *= norm
        for t in range(start, stop):
            i = cols[t]
            qi = Q[i]
            pred = mu + bu[u] + bi[i]
            for f in range(k):
                q[f] = qi[f]
                pe[f] = pu[f] + implicit[f]
            n_g = g_ptr[i + 1] - g_ptr[i]
            share = np.float32(1.0 / max(n_g, 1))
            for p in range(g_ptr[i], g_ptr[i + 1]):
                pred += share * c[g_idx[p]]
                zg = Z[g_idx[p]]
                for f in range(k):
                    q[f] += share * zg[f]
            e = vals[t] - (pred + _dot(pe, q))
            sq += e * e
            bu[u] += lr * (e - reg_b * bu[u])
            bi[i] += lr * (e - reg_b * bi[i])
            e32 = np.float32(e)
            for p in range(g_ptr[i], g_ptr[i + 1]):
                c[g_idx[p]] += lr * (share * e - reg_c * c[g_idx[p]])
                zg = Z[g_idx[p]]
                for f in range(k):
                    zg[f] += lr32 * (share * e32 * pe[f] - reg_g * zg[f])
            for f in range(k):
                pu[f] += lr32 * (e32 * q[f] - reg * pu[f])
                qi[f] += lr32 * (e32 * pe[f] - reg * qi[f])
            if gather:
                for f in range(k):
                    grad[f] += e32 * q[f]
        if use_implicit:
            for t in range(start, stop):
                yj = Y[cols[t]]
                for f in range(k):
                    yj[f] += lr32 * (norm * grad[f] - reg_y * yj[f])
        if use_asymmetric:
            for t in range(start, stop):
                xj = X[cols[t]]
                w = norm * residual[t]
                for f in range(k):
                    xj[f] += lr32 * (w * grad[f] - reg_y * xj[f])
    return sq


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` on this thread alone. OpenBLAS would spread a product this small over
    threads, which on a busy machine wait on each other: a 3 ms product took 100+ ms at p95."""
    out = np.empty(matrix.shape[0], dtype=np.float32)
    for i in range(matrix.shape[0]):
        out[i] = _dot(matrix[i], vector)
    return out
