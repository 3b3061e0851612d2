"""The map from the first term's per-level weights W to the entries of C_z' W C_z (see :mod:`._lmm`).

With C_z,a = Z1,a' Z_rest (L1 x zr, one row per level of the first term, component a of its effects),

    (C_z' W C_z)_ij = sum_l sum_ab W_ab,l (C_z,a)_li (C_z,b)_lj,

linear in W. The map is built once, as a sparse matrix M with one row per distinct entry (i, j), i >= j,
of the zr x zr product (the lower triangle: the Cholesky factorisation reads no other) and one column
per weight (a, b, l), flattened as (q1, q1, L1); an evaluation is then the one sparse product M w.

A level with k nonzero entries in its rows contributes k(k + 1) / 2 pairs per component pair: a crossed
design has millions (InstEval: 1.8 million for 142,330 distinct entries), so the pairs are made in
chunks of levels, on two threads where that pays, with 32-bit indices where they fit. Every large
temporary is fresh memory, slow to touch the first time in a virtual machine.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from lacrima.longitudinal._lapack import map_parallel

__all__ = ["cwc_map"]

# Above this many zr x zr positions the distinct entries are found by a sort, not a table.
_LOOKUP_LIMIT = 64_000_000
# Pairs per chunk of levels.
_CHUNK = 250_000

_Parts = tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]


def cwc_map(cz: Sequence[sp.csr_matrix], n1: int, zr: int, parallel: bool) -> tuple[sp.spmatrix, np.ndarray]:
    """The map M (distinct entries x q1 q1 L1, stored by columns) and, per row of M, its entry's flat
    position i * zr + j in the zr x zr block (ascending). ``cz`` holds C_z,a per component a, each with
    sorted indices; ``parallel`` makes the pairs on two threads."""
    q1 = len(cz)
    ncols = n1 * q1 * q1
    per_level = sum(np.diff(c.indptr) for c in cz) ** 2
    bounds = [0, *np.flatnonzero(np.diff(np.cumsum(per_level) // _CHUNK)) + 1, n1]
    chunks = [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    def make(levels: tuple[int, int]) -> _Parts:
        return _pairs(cz, n1, zr, levels)

    parts = map_parallel(make, chunks) if parallel else [make(c) for c in chunks]
    keys = [k for part in parts for k in part[0]]
    wcol = [w for part in parts for w in part[1]]
    vals = [v for part in parts for v in part[2]]
    del parts
    total = sum(len(k) for k in keys)
    if not total:
        return sp.csr_matrix((0, ncols)), np.zeros(0, dtype=np.int64)
    slot: np.ndarray | None = None  # per zr x zr position, its entry's index (the table)
    at: np.ndarray | None = None  # per pair, its entry's index (the sort)
    if zr * zr <= _LOOKUP_LIMIT:
        # The distinct entries by a lookup table over the zr x zr positions (a sort of the millions of
        # pairs of a crossed design took seconds).
        seen = np.zeros(zr * zr, dtype=bool)
        for k in keys:
            seen[k] = True
        uniq = np.flatnonzero(seen)
        slot = np.cumsum(seen, dtype=np.int32 if zr * zr < 2**31 else np.int64) - 1
        del seen
    else:
        # Too many positions for a table (tens of thousands of nested therapists): a sort.
        uniq, at = np.unique(np.concatenate(keys), return_inverse=True)
    # Stored by columns (the weights), the order the pairs were made in: no conversion of the millions
    # of entries (a COO-to-CSR conversion was half of InstEval's set-up); the product with the weights
    # is as fast. Filled chunk by chunk, each chunk let go once copied.
    itype = np.int32 if total < 2**31 and len(uniq) < 2**31 else np.int64
    row = np.empty(total, dtype=itype)
    col = np.empty(total, dtype=wcol[0].dtype)
    data = np.empty(total)
    start = 0
    while keys:
        k, w, v = keys.pop(0), wcol.pop(0), vals.pop(0)
        end = start + len(k)
        if slot is not None:
            row[start:end] = slot[k]
        elif at is not None:
            row[start:end] = at[start:end]
        col[start:end] = w
        data[start:end] = v
        start = end
    if np.any(col[1:] < col[:-1]):
        order = np.argsort(col, kind="stable")
        col, row, data = col[order], row[order], data[order]
    indptr = np.zeros(ncols + 1, dtype=itype)
    np.cumsum(np.bincount(col, minlength=ncols), out=indptr[1:])
    return sp.csc_matrix((data, row, indptr), shape=(len(uniq), ncols)), uniq


def _pairs(cz: Sequence[sp.csr_matrix], n1: int, zr: int, levels: tuple[int, int]) -> _Parts:
    """For the first term's levels lo..hi-1: per pair of its components (a, b), the pairs of entries
    (i, j), i >= j, of a level's rows of C_z,a and C_z,b, as flat keys i * zr + j, the weight column
    (a, b, level) and the product of the two entries."""
    lo, hi = levels
    q1 = len(cz)
    out: _Parts = ([], [], [])
    keys, wcol, vals = out
    # 32-bit keys and columns where they fit: half the memory of millions of pairs.
    kt = np.int32 if zr * zr < 2**31 else np.int64
    ct = np.int32 if n1 * q1 * q1 < 2**31 else np.int64
    for a in range(q1):
        ca = cz[a][lo:hi]
        la = np.repeat(np.arange(hi - lo), np.diff(ca.indptr))
        for b in range(q1):
            first_col = lo + (a * q1 + b) * n1
            if a == b:
                _pairs_within(ca, la, first_col, zr, out, (kt, ct))
                continue
            cb = cz[b][lo:hi]
            reps = np.diff(cb.indptr)[la]
            rep_a = np.repeat(np.arange(ca.nnz), reps)
            starts = np.cumsum(reps) - reps
            idx_b = cb.indptr[la[rep_a]] + np.arange(len(rep_a)) - np.repeat(starts, reps)
            row, col = ca.indices[rep_a], cb.indices[idx_b]
            low = row >= col
            keys.append(row[low].astype(kt) * kt(zr) + col[low].astype(kt))
            wcol.append((la[rep_a[low]] + first_col).astype(ct))
            vals.append(ca.data[rep_a[low]] * cb.data[idx_b[low]])
    return out


def _pairs_within(
    ca: sp.csr_matrix, la: np.ndarray, first_col: int, zr: int, out: _Parts, types: tuple[type, type]
) -> None:
    """:func:`_pairs` for a = b: a level's entries paired with the ones before them in its row and with
    themselves (the row's columns are sorted, so that is the lower triangle), made directly: half the
    pairs that pairing all and keeping the lower ones makes (InstEval: 1.8 of 3.6 million)."""
    kt, ct = types
    it = np.int32 if ca.nnz < 2**31 else np.int64
    starts = ca.indptr[:-1].astype(it)[la]  # per entry, where its row starts
    count = np.arange(ca.nnz, dtype=it) - starts + 1  # entries up to and including itself
    mine = np.repeat(np.arange(ca.nnz, dtype=it), count)
    offset = np.cumsum(count, dtype=np.int64) - count
    other = np.arange(len(mine), dtype=np.int64) - np.repeat(offset, count)
    other += np.repeat(starts, count)
    cols = ca.indices
    keys, wcol, vals = out
    keys.append(cols[mine].astype(kt) * kt(zr) + cols[other].astype(kt))
    wcol.append((la[mine] + first_col).astype(ct))
    vals.append(ca.data[mine] * ca.data[other])
