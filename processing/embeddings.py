"""A stored embedder: embeddings are computed once per (model, string), kept in the database
(:class:`processing.models.LabelEmbedding`) and memoised per process.

A sentence embedding is a pure function of the model and the string, so reusing a stored one
changes nothing but the time: a rebuild after the first embeds only new strings, and the
incremental path reads a class's member embeddings instead of recomputing them. Every path
(incremental, rebuild) sees the same float32 vector for a string, which keeps them consistent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from processing.nlp.embed import Embedder

from .models import LabelEmbedding

_MEMO_MAX = 50_000
_LOOKUP_CHUNK = 2_000


class _Memo:
    """A bounded, thread-safe LRU of vectors per (model, text)."""

    def __init__(self, maxsize: int = _MEMO_MAX) -> None:
        self.maxsize = maxsize
        self.data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, model_id: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        out = {}
        with self.lock:
            for t in texts:
                v = self.data.get((model_id, t))
                if v is not None:
                    self.data.move_to_end((model_id, t))
                    out[t] = v
        return out

    def put_many(self, model_id: str, items: dict[str, np.ndarray]) -> None:
        with self.lock:
            for t, v in items.items():
                self.data[(model_id, t)] = v
                self.data.move_to_end((model_id, t))
            while len(self.data) > self.maxsize:
                self.data.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


MEMO = _Memo()


def embedding_memo_clear() -> None:
    """Forget the per-process vectors (tests; benchmarks of a cold start)."""
    MEMO.clear()


@contextmanager
def memo_forgotten_on_error() -> Iterator[None]:
    """Around a transaction that embeds and stores strings: if it fails, forget the process's
    memo. The vectors it computed were put in the memo when computed, but their stored rows
    went back with the transaction; left in the memo, a retry in this process would find them
    there and never store them, and a web request (which reads stored vectors only) would miss
    them."""
    try:
        yield
    except BaseException:
        MEMO.clear()
        raise


class EmbeddingMissing(LookupError):
    """A string a web request needs has no stored vector (the processing task embeds them)."""


class LookupOnlyEmbedder:
    """An embedder that never runs its model: with :class:`StoredEmbedder` it gives stored
    vectors only, so a web request never loads Sentence-BERT (no torch in web processes).
    Every label, and its templated and head-word forms, was embedded by the processing task
    that grouped it; a string that was not raises :class:`EmbeddingMissing`."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        raise EmbeddingMissing(f"{len(strings)} string(s) have no stored embedding yet")


class StoredEmbedder:
    """Wraps an :class:`Embedder`: memo, then the database, then the model (new strings are
    written back by :meth:`flush`, or at once with ``autoflush``)."""

    def __init__(self, embedder: Embedder, *, use_store: bool = True, autoflush: bool = True):
        self.embedder = embedder
        self.use_store = use_store
        self.autoflush = autoflush
        self.pending: dict[str, np.ndarray] = {}
        self.stats = {"memo": 0, "store": 0, "computed": 0}

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def _lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(texts), _LOOKUP_CHUNK):
            chunk = texts[i : i + _LOOKUP_CHUNK]
            rows = LabelEmbedding.objects.filter(model_id=self.model_id, text__in=chunk)
            for text, vector in rows.values_list("text", "vector"):
                found[text] = np.frombuffer(bytes(vector), dtype=np.float32)
        return found

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        strings = list(strings)
        distinct = list(dict.fromkeys(strings))
        vectors = MEMO.get_many(self.model_id, distinct)
        self.stats["memo"] += len(vectors)
        missing = [s for s in distinct if s not in vectors]
        if missing and self.use_store:
            stored = self._lookup(missing)
            self.stats["store"] += len(stored)
            vectors.update(stored)
            MEMO.put_many(self.model_id, stored)
            missing = [s for s in missing if s not in stored]
        if missing:
            computed = self.embedder.embed(missing)
            new = {s: np.array(v, dtype=np.float32) for s, v in zip(missing, computed)}
            for v in new.values():
                v.setflags(write=False)
            self.stats["computed"] += len(new)
            vectors.update(new)
            MEMO.put_many(self.model_id, new)
            if self.use_store:
                self.pending.update(new)
                if self.autoflush:
                    self.flush()
        if not strings:
            dim = next(iter(vectors.values())).shape[0] if vectors else 0
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([vectors[s] for s in strings]).astype(np.float32, copy=False)

    def flush(self) -> int:
        """Write the new vectors to the database (existing rows are left alone)."""
        if not self.pending:
            return 0
        rows = [
            LabelEmbedding(model_id=self.model_id, text=t, vector=v.astype(np.float32).tobytes())
            for t, v in self.pending.items()
        ]
        LabelEmbedding.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        n = len(rows)
        self.pending.clear()
        return n
