"""Matching by meaning: every phrasing's sentence vector, and a question's similarity to each entry.

Phrasing vectors are computed once per model and text and kept in a small on-disk cache, so a restart, a
``faqbot ask`` or a reload of an edited knowledge base embeds only the texts it has not seen before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .encoder import Encoder
from .models import Entry

log = logging.getLogger("faqbot.semantic")


def default_cache_dir() -> Path:
    """Where phrasing vectors are cached: ``$XDG_CACHE_HOME/faqbot`` or ``~/.cache/faqbot``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "faqbot"


class VectorCache:
    """Text -> vector for one model, in one ``.npz`` file; written atomically, so workers never read half a file."""

    def __init__(self, directory: str | Path | None, model_id: str) -> None:
        self.path = Path(directory) / f"vectors-{model_id}.npz" if directory else None
        self._vectors: dict[str, Any] = {}
        self._dirty = False
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path) as data:
                    self._vectors = dict(zip((k.decode() for k in data["keys"]), data["vectors"]))
            except (OSError, ValueError, KeyError):
                log.warning("vector cache %s is unreadable; it will be rebuilt", self.path)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(self, encoder: Encoder, texts: Sequence[str]) -> Any:
        """Vectors of ``texts``, encoding only those not cached yet."""
        keys = [self.key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._vectors}.items())
        if missing:
            vectors = encoder.encode([t for _, t in missing])
            self._vectors.update(zip((k for k, _ in missing), vectors))
            self._dirty = True
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, encoder.dim), np.float32)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = np.array([k.encode() for k in self._vectors], dtype="S40")
            vectors = np.stack(list(self._vectors.values())).astype(np.float32)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, keys=keys, vectors=vectors)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError as exc:
            log.warning("cannot write the vector cache %s (%s); the next start will embed again", self.path, exc)


@dataclass(frozen=True)
class Nearness:
    """How close a question is in meaning to each entry: its nearest phrasing and the entry's centroid."""

    best: Any  # (entries,) highest cosine similarity to any of the entry's texts
    centroid: Any  # (entries,) cosine similarity to the mean of the entry's text vectors
    rows: Any  # (texts,) similarity to every text, for explanations

    def lead(self, entry: int) -> float:
        """The entry's nearest-phrasing similarity minus the best of all other entries'."""
        if len(self.best) < 2:
            return float(self.best[entry])
        others = np.delete(self.best, entry)
        return float(self.best[entry] - others.max())


class Semantic:
    """The sentence vectors of every entry's texts, ready to compare a question vector against."""

    def __init__(self, entries: Sequence[Entry], encoder: Encoder, *, cache: VectorCache | None = None) -> None:
        self.encoder = encoder
        texts = [(i, t) for i, e in enumerate(entries) for t in e.texts]
        self._texts = [t for _, t in texts]
        self._owner = np.array([i for i, _ in texts], dtype=np.int64)
        cache = cache or VectorCache(None, encoder.id)
        self._matrix = np.ascontiguousarray(cache.embed(encoder, self._texts), dtype=np.float32)
        cache.save()
        # Texts are grouped by entry, so each entry's rows start where the previous entry's end.
        counts = np.bincount(self._owner, minlength=len(entries))
        self._starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        sums = np.zeros((len(entries), self._matrix.shape[1]), np.float32)
        np.add.at(sums, self._owner, self._matrix)
        self._centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)

    @property
    def owners(self) -> Any:
        """The entry index of each text, in the order of ``Nearness.rows``."""
        return self._owner

    def vectors_of(self, entry: int) -> Any:
        """The entry's text vectors, in the order of ``Entry.texts`` (question first)."""
        return self._matrix[self._owner == entry]

    def nearness(self, vector: Any) -> Nearness:
        rows = self._matrix @ vector
        return Nearness(best=np.maximum.reduceat(rows, self._starts), centroid=self._centroids @ vector, rows=rows)

    def nearest_text(self, near: Nearness, entry: int) -> tuple[str, float]:
        """The entry's text closest in meaning, and its similarity: the semantic half of an explanation."""
        idx = np.flatnonzero(self._owner == entry)
        best = idx[int(np.argmax(near.rows[idx]))]
        return self._texts[best], float(near.rows[best])
