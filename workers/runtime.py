"""Per-process caches for heavy objects (models, embedder) and the device choice.

Nothing here runs at import time: a model is loaded on first use in a process and kept for the
life of that process (a Celery worker child, a management command).
"""

from __future__ import annotations

import threading
from functools import lru_cache

from django.conf import settings

from workers.inv.models import LoadedModel, ModelSource, load_model

_lock = threading.Lock()


def device_get() -> str:
    """The engine device of this process: ``settings.NETVIZ_DEVICE`` ("cpu" or "cuda")."""
    device = str(settings.NETVIZ_DEVICE).strip().lower()
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("NETVIZ_DEVICE is 'cuda' but no CUDA device is available here.")
    return device


def _configure_threads() -> None:
    threads = int(settings.NETVIZ_TORCH_THREADS or 0)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


@lru_cache(maxsize=4)
def _cached_model(source: ModelSource, device: str) -> LoadedModel:
    _configure_threads()
    return load_model(source, device=device)


def model_get(source: ModelSource, *, device: str | None = None) -> LoadedModel:
    """Load (once per process) and return the model for ``source`` on ``device``."""
    with _lock:
        return _cached_model(source, device or device_get())


# --- sentence embedder (label processing) ---------------------------------------------------

_embedders: dict[str, object] = {}


def embedder_get(model_path: str | None = None):
    """The Sentence-BERT embedder of this process (loaded on its first ``embed``, then kept).

    ``model_path``: a local sentence-transformers folder; default
    ``settings.NETVIZ_EMBEDDING_MODEL``, else the offline-packaged all-MiniLM-L6-v2.
    """
    from processing.nlp.embed import SentenceEmbedder

    path = model_path or settings.NETVIZ_EMBEDDING_MODEL or ""
    with _lock:
        embedder = _embedders.get(path)
        if embedder is None:
            _configure_threads()  # NETVIZ_TORCH_THREADS, as for the engine's models
            embedder = SentenceEmbedder(path or None)
            _embedders[path] = embedder
        return embedder
