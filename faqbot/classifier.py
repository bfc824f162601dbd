"""The risk classifier: two small models on a message, one reading its meaning, one its spelling, trained offline.

The meaning view (a one-hidden-layer network on the sentence vector) reads "done, tonight's the night" and "i
have the pills saved up" as risky although no crisis keyword is in them; the spelling view (logistic regression
on hashed character n-grams) reads "kil myslef" and slang the encoder never saw. They err apart, so their
probabilities are averaged. Weights and thresholds ship as JSON (``faqbot/data/risk-model.json``), fitted by
``python -m bench safety --fit`` on tests/data/safety_train.yaml plus everyday CLINC150 sentences, with thresholds
chosen on cross-validated predictions of that training data (never on a holdout). The file names the encoder
it was trained for; with another encoder it is not used.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

log = logging.getLogger("faqbot.classifier")

DEFAULT_MODEL = Path(__file__).parent / "data" / "risk-model.json"
# A second opinion that only adds the crisis line (``RiskPolicy(line_classifier=...)``): the fourth model, which
# keeps lines where the main one, fitted with contrast pairs, lets a few go (docs/safety.md).
LINE_MODEL = Path(__file__).parent / "data" / "risk-model-line.json"
# The referral opinion: the main recipe fitted with more personal medical questions; only its referral score is read
# (a personal medical question the rules do not word), so it never changes a crisis, a concern or the line.
REFERRAL_MODEL = Path(__file__).parent / "data" / "risk-model-referral.json"
CLASSES = ("none", "concern", "crisis", "referral")


@dataclass(frozen=True)
class Scores:
    """Probabilities of the two risk levels, and of a personal medical question, for one message."""

    concern: float
    crisis: float
    referral: float = 0.0


CHAR_BUCKETS = 1 << 16
_WORD = re.compile(r"\w+")


def char_grams(text: str, *, buckets: int = CHAR_BUCKETS, words: int = 1) -> Counter[int]:
    """Counts of the hashed 2- to 5-letter pieces of each word, padded with spaces: a view of a message that
    survives the typos and slang the encoder never saw ("kil myslef", "sewerslide"). With ``words`` above 1, also
    runs of 2 to ``words`` whole words, which letters inside one word cannot see: "end of my rope with my insurance",
    "bit the bullet", "not anymore"."""
    counts: Counter[int] = Counter()
    tokens = _WORD.findall(text.lower())
    for word in tokens:
        padded = f" {word[:40]} "
        for n in range(2, 6):
            for i in range(len(padded) - n + 1):
                counts[zlib.crc32(padded[i : i + n].encode("utf-8")) % buckets] += 1
    for n in range(2, words + 1):
        for i in range(len(tokens) - n + 1):
            counts[zlib.crc32(("\x00" + " ".join(tokens[i : i + n])).encode("utf-8")) % buckets] += 1
    return counts


def _pack(array: Any) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(array, dtype="<f2").tobytes()).decode("ascii")


def _unpack(text: str, shape: tuple[int, ...]) -> Any:
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32).reshape(shape)


class CharModel:
    """Logistic regression on the tf-idf of a message's ``char_grams``: the spelling view, beside the meaning."""

    def __init__(self, *, weights: Any, bias: Any, idf: Any, words: int = 1) -> None:
        import numpy as np

        self._np = np
        self.weights = np.asarray(weights, dtype=np.float32)  # (classes, buckets)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.words = words  # the longest run of whole words counted beside the letters (1: letters only)

    @staticmethod
    def weighted(counts: Counter[int], idf: Any) -> tuple[list[int], Any]:
        """The bucket indices and their unit-length tf-idf values (sublinear tf), as fitting uses them too."""
        import numpy as np

        index = list(counts)
        values = np.array([1.0 + math.log(counts[i]) for i in index], dtype=np.float32) * idf[index]
        norm = float(np.sqrt(values @ values)) or 1.0
        return index, values / norm

    def logits(self, text: str) -> Any:
        index, values = self.weighted(char_grams(text, buckets=len(self.idf), words=self.words), self.idf)
        return self.weights[:, index] @ values + self.bias

    def to_dict(self) -> dict[str, Any]:
        return {"buckets": len(self.idf), "weights": _pack(self.weights), "bias": self.bias.tolist(),
                "idf": _pack(self.idf), **({"words": self.words} if self.words > 1 else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharModel:
        n, k = int(data["buckets"]), len(data["bias"])
        return cls(weights=_unpack(data["weights"], (k, n)), bias=data["bias"], idf=_unpack(data["idf"], (n,)),
                   words=int(data.get("words", 1)))


def _softmax(z: Any) -> Any:
    import numpy as np

    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class RiskClassifier:
    """Softmax over (none, concern, crisis, referral) on unit sentence vectors: multinomial logistic regression, or
    with one ReLU hidden layer in front of it when ``hidden`` (weights ``(units, dim)`` and bias) is given. With
    ``chars``, the message's spelling view is averaged in: the two read different things and err apart."""

    def __init__(self, *, weights: Any, bias: Any, encoder_id: str, crisis: float, foreign_crisis: float,
                 concern: float, concern_from_crisis: float, referral: float = 1.1,
                 hidden: tuple[Any, Any] | None = None, chars: CharModel | None = None) -> None:
        import numpy as np

        self._np = np
        self.weights = np.asarray(weights, dtype=np.float32)  # (classes, dim or units)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.hidden = None if hidden is None else (np.asarray(hidden[0], dtype=np.float32),
                                                   np.asarray(hidden[1], dtype=np.float32))
        self.encoder_id = encoder_id
        self.crisis = crisis  # crisis probability at or above which a message is a crisis
        self.foreign_crisis = foreign_crisis  # the same for a language the rules cannot read: lower, recall first
        self.concern = concern
        self.concern_from_crisis = concern_from_crisis
        self.referral = referral  # above 1 (a model with no referral class): never
        self.chars = chars

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL, *, encoder_id: str | None = None) -> RiskClassifier | None:
        """The classifier in ``path``; None (rules only, with a warning) if it was trained for another encoder."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the risk model ({exc}); reinstall faqbot or point "
                              "settings at a valid file") from None
        if encoder_id is not None and data.get("encoder") != encoder_id:
            log.warning("risk model %s was trained for encoder %s, not %s: crisis detection uses rules only",
                        path, data.get("encoder"), encoder_id)
            return None
        t = data["thresholds"]
        hidden = data.get("hidden")
        return cls(weights=data["weights"], bias=data["bias"], encoder_id=data["encoder"], crisis=t["crisis"],
                   foreign_crisis=t["foreign_crisis"], concern=t["concern"],
                   concern_from_crisis=t["concern_from_crisis"], referral=t.get("referral", 1.1),
                   hidden=None if hidden is None else (hidden["weights"], hidden["bias"]),
                   chars=CharModel.from_dict(data["chars"]) if "chars" in data else None)

    def probabilities(self, vectors: Any, texts: Any = None) -> Any:
        """``(n, classes)`` probabilities for ``(n, dim)`` vectors, with the spelling view of ``texts`` averaged in
        when the model has one and the texts are given."""
        np = self._np
        x = np.atleast_2d(vectors)
        if self.hidden is not None:
            x = np.maximum(x @ self.hidden[0].T + self.hidden[1], 0.0)
        p = _softmax(x @ self.weights.T + self.bias)
        if self.chars is not None and texts is not None:
            p = (p + _softmax(np.stack([self.chars.logits(t) for t in texts]))) / 2
        return p

    def scores(self, vector: Any, text: str | None = None) -> Scores:
        p = self.probabilities(vector, None if text is None else [text])[0]
        return Scores(concern=float(p[1]), crisis=float(p[2]), referral=float(p[3]) if len(p) > 3 else 0.0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.hidden is None else {
            "hidden": {"weights": self.hidden[0].tolist(), "bias": self.hidden[1].tolist()}}
        if self.chars is not None:
            out["chars"] = self.chars.to_dict()
        return {"encoder": self.encoder_id, "classes": list(CLASSES[:len(self.weights)]),
                "weights": self.weights.tolist(), "bias": self.bias.tolist(), **out,
                "thresholds": {"crisis": self.crisis, "foreign_crisis": self.foreign_crisis, "concern": self.concern,
                               "concern_from_crisis": self.concern_from_crisis, "referral": self.referral}}
