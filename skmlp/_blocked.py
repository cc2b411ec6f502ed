"""Block-by-block vector updates that stay in the CPU cache.

An optimizer step makes several passes over every parameter. Done over whole
vectors, each pass streams the parameters through main memory; done
:data:`BLOCK` entries at a time, the later passes over a block find it in the
cache, and scratch space is one block instead of one parameter vector.
"""

import functools

import numpy as np

#: Entries per block. Five float64 blocks (gradient, parameters, two moment
#: estimates, scratch) take 1.25 MiB, about one core's L2 cache; of 2k to 32k,
#: 32k was fastest for Adam on the benchmarks' 235k and 1.6M parameters (each
#: block costs ~15 NumPy calls, so smaller blocks pay more call overhead).
BLOCK = 32768


@functools.lru_cache(maxsize=64)
def blocks(n: int) -> tuple:
    """Slices cutting ``range(n)`` into consecutive blocks of at most :data:`BLOCK`."""
    return tuple(slice(s, min(s + BLOCK, n)) for s in range(0, n, BLOCK))


def block_scratch(like: np.ndarray) -> np.ndarray:
    """Scratch space for one block of ``like`` (same dtype)."""
    return np.empty(min(BLOCK, like.size), dtype=like.dtype)


def fold_l2(g, p, l2: float, n_l2: int, block: slice, tmp) -> None:
    """``g += l2 * p`` on the entries of ``block`` that lie below ``n_l2``.

    ``g`` and ``p`` are the block's slices of the gradient and the parameters;
    ``tmp`` is scratch space at least as long as the block.
    """
    k = min(block.stop, n_l2) - block.start
    if l2 and k > 0:
        t = np.multiply(p[:k], l2, out=tmp[:k])
        g[:k] += t


def add_scaled(y: np.ndarray, x: np.ndarray, a: float, n: int, tmp) -> None:
    """``y[:n] += a * x[:n]`` block by block, through the block scratch ``tmp``."""
    for block in blocks(n):
        fold_l2(y[block], x[block], a, n, block, tmp)
