"""The resume state of an unfinished run: everything needed to continue it exactly.

Saved as one ``<stem>.resume.npz`` beside the model file every ``checkpoint_every`` epochs and
on SIGTERM: the model's and the optimizer's variables, the best weights so far, and as JSON the
run's fingerprint, the next epoch, the history, the best loss and epoch, the plateau state and
the time spent.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import LstmfcnError
from .protocol import Plateau


@dataclass
class ResumeState:
    """Where a run stands after ``next_epoch`` epochs."""

    fingerprint: str
    plateau: Plateau
    next_epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_loss: float = math.inf
    best_epoch: int = 0
    best_weights: list[np.ndarray] | None = None
    seconds: float = 0.0  # training time of earlier attempts

    def save(self, path: Path, model) -> None:
        """Write the state and ``model``'s variables (weights, optimizer slots, RNG state)."""
        arrays = {f"var_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
        arrays.update(
            {f"opt_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)}
        )
        if self.best_weights is not None:
            arrays.update({f"best_{i}": w for i, w in enumerate(self.best_weights)})
        state = {
            "fingerprint": self.fingerprint,
            "next_epoch": self.next_epoch,
            "history": self.history,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
            "plateau": asdict(self.plateau),
            "n_variables": [len(model.variables), len(model.optimizer.variables)],
        }
        arrays["state_json"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        atomic_write(path, lambda f: np.savez(f, **arrays))

    @staticmethod
    def fingerprint_of(path: Path) -> str:
        """The run identity a saved state belongs to, read without touching any model."""
        return ResumeState.summary_of(path)["fingerprint"]

    @staticmethod
    def summary_of(path: Path) -> dict:
        """The saved state without its arrays (fingerprint, next_epoch, history, seconds, ...):
        what ``lstmfcn status`` reads, without Keras and without loading the weights."""
        with np.load(path) as z:
            return json.loads(bytes(z["state_json"]).decode())

    @classmethod
    def load(cls, path: Path, model) -> ResumeState:
        """Read a state and assign its variables to ``model`` (built and compiled as for the
        run). OSError, ValueError or KeyError for an unreadable file; LstmfcnError for a
        state of another model shape."""
        with np.load(path) as z:
            state = json.loads(bytes(z["state_json"]).decode())
            n_var, n_opt = len(model.variables), len(model.optimizer.variables)
            if state.get("n_variables") != [n_var, n_opt]:
                raise LstmfcnError(f"resume state {path} does not fit this model")
            for i, v in enumerate(model.variables):
                v.assign(z[f"var_{i}"])
            for i, v in enumerate(model.optimizer.variables):
                v.assign(z[f"opt_{i}"])
            best = (
                [z[f"best_{i}"] for i in range(len(model.weights))] if "best_0" in z.files else None
            )
        return cls(
            fingerprint=state["fingerprint"],
            plateau=Plateau(**state["plateau"]),
            next_epoch=state["next_epoch"],
            history=state["history"],
            best_loss=state["best_loss"],
            best_epoch=state["best_epoch"],
            best_weights=best,
            seconds=state["seconds"],
        )
