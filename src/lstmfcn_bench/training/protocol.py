"""The paper's training protocol as plain pieces: class weights, the epoch order, the plateau
schedule and the compiled model (Adam, class-weighted cross-entropy, accuracy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LstmfcnError
from .config import TrainConfig


@dataclass
class Plateau:
    """Keras's ReduceLROnPlateau (mode min, cooldown 0) on the training loss, as plain state."""

    lr: float
    factor: float
    patience: int
    min_lr: float
    min_delta: float
    best: float = math.inf
    wait: int = 0

    @classmethod
    def of(cls, config: TrainConfig) -> Plateau:
        return cls(
            lr=config.learning_rate,
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.plateau_min_lr,
            min_delta=config.plateau_min_delta,
        )

    def update(self, loss: float) -> float:
        if loss < self.best - self.min_delta:
            self.best = loss
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                if self.lr > np.float32(self.min_lr):
                    self.lr = max(self.lr * self.factor, self.min_lr)
                self.wait = 0
        return self.lr


def class_weights(y: np.ndarray, n_classes: int, balanced: bool = True) -> np.ndarray:
    """n / (K · count_k), as the authors' code (sklearn's 'balanced'); all ones when not
    ``balanced`` (a plain cross-entropy, not the paper's protocol)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise LstmfcnError(f"classes {missing} have no training series")
    if not balanced:
        return np.ones(n_classes, dtype=np.float32)
    return (len(y) / (n_classes * counts)).astype(np.float32)


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of epoch `epoch`: a pure function of (seed, epoch), so resuming replays it."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def new_model(config: TrainConfig, length: int, n_classes: int, weights: np.ndarray):
    """A freshly seeded, compiled model with its optimizer built: the start of every run."""
    import keras

    from .. import runtime
    from ..models.architecture import build_model
    from ..models.losses import ClassWeightedCrossEntropy

    runtime.seed_everything(config.seed)
    model = build_model(config.model, length, n_classes, cells=config.cells, shuffle=config.shuffle)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=ClassWeightedCrossEntropy(weights),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=runtime.jit_compile_setting(),
    )
    model.optimizer.build(model.trainable_variables)
    return model
