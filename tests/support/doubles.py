"""Doubles that a careless float-to-text conversion gets wrong: for exact round-trip checks."""

from __future__ import annotations

import math
import random
import struct

EXTREME_DOUBLES = [
    5e-324,  # the smallest subnormal
    -5e-324,
    2.225073858507201e-308,  # the largest subnormal
    2.2250738585072014e-308,  # the smallest normal
    1.7976931348623157e308,  # the largest finite double
    -1.7976931348623157e308,
    0.1,
    1 / 3,
    2.0**53 + 2,
    9007199254740993.0,  # 2**53 + 1 rounds to 2**53
    123456789012345680.0,
    1e-7,
    1e16,
    1e22,
    1e23,  # not exactly representable: printed with 15 digits it reads back as a neighbour
    0.30000000000000004,
    -2.5,
]


def random_doubles(n: int, seed: int = 20240611) -> list[float]:
    """Finite doubles with uniformly random bit patterns: every exponent, subnormals included."""
    rng = random.Random(seed)
    out: list[float] = []
    while len(out) < n:
        (value,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if math.isfinite(value) and value != 0.0:
            out.append(value)
    return out
