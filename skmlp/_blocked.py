"""Block-by-block vector updates that stay in the CPU cache.

An optimizer step makes several passes over every parameter. Done over whole
vectors, each pass streams the parameters through main memory; done
:data:`BLOCK` entries at a time, the later passes over a block find it in the
cache, and scratch space is one block instead of one parameter vector.
"""

import functools

import numpy as np

from skmlp import _aligned

#: Bytes per array per block. Five blocks (gradient, parameters, two moment
#: estimates, scratch) take 1.25 MiB, about one core's L2 cache. Of 2k to 64k
#: float64 entries, 32k (256 KiB) was fastest for Adam on the benchmarks' 235k
#: and 1.6M parameters; in float32, 64k entries (the same 256 KiB) beat 32k by
#: 5-10% (each block costs ~15 NumPy calls, so smaller blocks pay more call
#: overhead).
BLOCK_BYTES = 256 << 10

#: Entries per float64 block.
BLOCK = BLOCK_BYTES // 8


def block_len(dtype) -> int:
    """Entries of ``dtype`` per block (:data:`BLOCK_BYTES` of them)."""
    return max(1, BLOCK_BYTES // np.dtype(dtype).itemsize)


@functools.lru_cache(maxsize=64)
def blocks(n: int, size: int = BLOCK) -> tuple:
    """Slices cutting ``range(n)`` into consecutive blocks of at most ``size``."""
    return tuple(slice(s, min(s + size, n)) for s in range(0, n, size))


def block_scratch(like: np.ndarray) -> np.ndarray:
    """Scratch space for one block of ``like`` (same dtype).

    Its length is the block length that block-by-block loops over ``like``
    use (see :func:`add_scaled`, :meth:`skmlp._optimizers._Optimizer.step`).
    """
    return _aligned.empty(min(block_len(like.dtype), like.size), like.dtype)


def fold_l2(g, p, l2: float, n_l2: int, block: slice, tmp, norm=False) -> float:
    """``g += l2 * p`` on the entries of ``block`` that lie below ``n_l2``.

    ``g`` and ``p`` are the block's slices of the gradient and the parameters;
    ``tmp`` is scratch space at least as long as the block. With ``norm``,
    return the sum of squares of those entries of ``p`` (taken while they are
    in the cache anyway), else 0.0.
    """
    k = min(block.stop, n_l2) - block.start
    if not (l2 and k > 0):
        return 0.0
    w = p[:k]
    sq = float(np.dot(w, w)) if norm else 0.0
    t = np.multiply(w, l2, out=tmp[:k])
    g[:k] += t
    return sq


def add_scaled(y: np.ndarray, x: np.ndarray, a: float, n: int, tmp, norm=False):
    """``y[:n] += a * x[:n]`` block by block, as long as the block scratch ``tmp``.

    With ``norm``, return the sum of squares of ``x[:n]`` (else 0.0).
    """
    sq = 0.0
    for block in blocks(n, max(1, tmp.size)):
        sq += fold_l2(y[block], x[block], a, n, block, tmp, norm)
    return sq
