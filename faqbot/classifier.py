"""The risk classifier: a small linear model on a message's sentence vector, trained offline.

It reads meaning, so "done, tonight's the night" and "i have the pills saved up" score high although no crisis
keyword is in them. Weights and thresholds ship as JSON (``faqbot/data/risk-model.json``), fitted by
``python -m bench safety --fit`` on tests/data/safety_train.yaml plus everyday CLINC150 sentences, with thresholds
chosen on cross-validated predictions of that training data (never on the holdout). The file names the encoder
it was trained for; with another encoder it is not used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

log = logging.getLogger("faqbot.classifier")

DEFAULT_MODEL = Path(__file__).parent / "data" / "risk-model.json"
CLASSES = ("none", "concern", "crisis", "referral")


@dataclass(frozen=True)
class Scores:
    """Probabilities of the two risk levels, and of a personal medical question, for one message."""

    concern: float
    crisis: float
    referral: float = 0.0


class RiskClassifier:
    """Softmax over (none, concern, crisis) on unit sentence vectors: multinomial logistic regression, or with
    one ReLU hidden layer in front of it when ``hidden`` (weights ``(units, dim)`` and bias) is given."""

    def __init__(self, *, weights: Any, bias: Any, encoder_id: str, crisis: float, foreign_crisis: float,
                 concern: float, concern_from_crisis: float, referral: float = 1.1,
                 hidden: tuple[Any, Any] | None = None) -> None:
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
                   hidden=None if hidden is None else (hidden["weights"], hidden["bias"]))

    def probabilities(self, vectors: Any) -> Any:
        """``(n, 3)`` class probabilities for ``(n, dim)`` vectors."""
        np = self._np
        x = np.atleast_2d(vectors)
        if self.hidden is not None:
            x = np.maximum(x @ self.hidden[0].T + self.hidden[1], 0.0)
        z = x @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def scores(self, vector: Any) -> Scores:
        p = self.probabilities(vector)[0]
        return Scores(concern=float(p[1]), crisis=float(p[2]), referral=float(p[3]) if len(p) > 3 else 0.0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.hidden is None else {
            "hidden": {"weights": self.hidden[0].tolist(), "bias": self.hidden[1].tolist()}}
        return {"encoder": self.encoder_id, "classes": list(CLASSES[:len(self.weights)]), "weights": self.weights.tolist(),
                "bias": self.bias.tolist(), **out,
                "thresholds": {"crisis": self.crisis, "foreign_crisis": self.foreign_crisis, "concern": self.concern,
                               "concern_from_crisis": self.concern_from_crisis, "referral": self.referral}}
