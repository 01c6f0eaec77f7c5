"""Seeds for episodes run without one: drawn, then recorded, so every episode can be replayed.

A ``null`` seed in ``meta.json`` made ``vlagent replay --execute`` of an unseeded run diverge at the first
step (the synthetic apps draw their task, the games their layout, from it).
"""

from __future__ import annotations

import random

#: Seeds are drawn below this (gymnasium and numpy take any non-negative int; 2**31 fits every C int).
SEED_LIMIT = 2**31


def draw_seed() -> int:
    """A fresh seed from the OS's randomness (not from ``random``'s global state, which tests may fix).

    Example:
        >>> 0 <= draw_seed() < SEED_LIMIT
        True
    """
    return random.SystemRandom().randrange(SEED_LIMIT)
