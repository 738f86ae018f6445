"""Seed Python's and numpy's global generators inside a guard that restores their next draw."""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np


@contextmanager
def seeded_python_and_numpy(seed: int) -> Iterator[None]:
    py_state = random.getstate()
    np_state = np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
