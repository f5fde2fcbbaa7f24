"""The settings of one training run, checked once, and the identity a resume state must match."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from .. import settings
from ..data import splits
from ..errors import ConfigError
from ..runs import MODELS

#: The cells the paper trains for every dataset and model; its table selects among them.
PAPER_CELLS = (8, 64, 128)
#: The epochs the paper trains every run for: the default of the CLI, the estimators, the cost
#: model and the ucr85/ucr128 presets.
PAPER_EPOCHS = 2000
#: The paper's protocol in words, as the table, the README block and the figures name it.
PAPER_PROTOCOL_TEXT = f"{PAPER_EPOCHS} epochs, cells {'/'.join(map(str, PAPER_CELLS))} chosen per seed by training loss"
#: The fields of :class:`TrainConfig` that make up the paper's protocol (its defaults are the
#: paper's values); seed, cells, checkpoints and precision are not protocol.
PROTOCOL_FIELDS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "plateau_patience",
    "plateau_factor",
    "plateau_min_lr",
    "plateau_min_delta",
    "shuffle",
    "class_weighted",
)
#: Protocol fields added after runs were recorded, with the value those runs had.
_BEFORE_RECORDED = {"class_weighted": True}


@dataclass(frozen=True)
class TrainConfig:
    model: str = "lstmfcn"
    cells: int = 8
    epochs: int = PAPER_EPOCHS
    batch_size: int = settings.default("batch_size")
    learning_rate: float = 1e-3
    seed: int = 0
    plateau_patience: int = settings.default("patience")
    plateau_factor: float = 1.0 / 2.0 ** (1.0 / 3.0)
    plateau_min_lr: float = 1e-4
    plateau_min_delta: float = 1e-4  # Keras ReduceLROnPlateau's default, which the authors kept
    shuffle: bool = settings.default("shuffle")  # the dimension shuffle: one LSTM timestep
    checkpoint_every: int = settings.default("checkpoint_every")  # epochs between resume states
    tf32: bool = settings.default("tf32")  # TF32 tensor-core maths allowed on GPUs
    class_weighted: bool = True  # the paper's n / (K · count_k) class weights in the loss
    split: str = splits.PAPER  # train/test as in the paper's 2015 archive (data/splits.py)

    def validate(self) -> None:
        """ConfigError for a value outside the config schema's range (the workflow's too)."""
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        for field, key in (
            ("cells", "cells"),
            ("epochs", "epochs"),
            ("batch_size", "batch_size"),
            ("seed", "seeds"),
            ("plateau_patience", "patience"),
            ("checkpoint_every", "checkpoint_every"),
        ):
            settings.check_int(key, getattr(self, field), field)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not (math.isfinite(self.plateau_min_delta) and self.plateau_min_delta >= 0):
            raise ConfigError(f"plateau_min_delta must be >= 0, got {self.plateau_min_delta}")
        if not 0 < self.plateau_factor < 1:
            raise ConfigError(f"plateau_factor must be in (0, 1), got {self.plateau_factor}")
        splits.check(self.split)

    def fingerprint(self, data_identity: str) -> str:
        """Identity of a run for resuming: everything but the epoch budget (which may grow);
        the data it trains on is ``data_identity`` (splits.data_identity: the split is there,
        so that a dataset the split leaves alone keeps the identity it had before it)."""
        d = asdict(self)
        d.pop("epochs")
        d.pop("checkpoint_every")
        d.pop("split")
        if not d["tf32"]:
            d.pop("tf32")  # fp32 runs keep the identity they had before the option existed
        if d["class_weighted"]:
            d.pop("class_weighted")  # likewise the paper's weighting
        d["data"] = data_identity
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def protocol_differences(config: dict, dataset: str | None = None) -> list[str]:
    """How a run's recorded config (``_train.json``'s ``config``) departs from the paper's
    protocol, one ``"field value (the paper's value)"`` per field; empty when it does not.
    The split counts only on a ``dataset`` whose split the 2018 archive exchanged."""
    paper = TrainConfig()
    out = []
    for field in PROTOCOL_FIELDS:
        value, expected = config.get(field, _BEFORE_RECORDED.get(field)), getattr(paper, field)
        same = (
            math.isclose(value, expected, rel_tol=1e-9)
            if isinstance(expected, float) and isinstance(value, (int, float))
            else value == expected
        )
        if not same:
            out.append(f"{field} {value!r} (the paper's {expected!r})")
    split = splits.of_run(config)
    if dataset in splits.EXCHANGED_SINCE_2015 and split != splits.PAPER:
        out.append(f"split {split!r} (the paper's {splits.PAPER!r}: train and test exchanged)")
    if config.get("cells") not in PAPER_CELLS:
        out.append(f"cells {config.get('cells')!r} (the paper's {'/'.join(map(str, PAPER_CELLS))})")
    return out
