"""Compact array storage: float16 ``.npy`` bytes in a BinaryField."""

from __future__ import annotations

import io

import numpy as np


def array_to_bytes(array: np.ndarray, *, dtype: str = "float16") -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=dtype), allow_pickle=False)
    return buffer.getvalue()


def array_from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.load(io.BytesIO(bytes(data)), allow_pickle=False)
