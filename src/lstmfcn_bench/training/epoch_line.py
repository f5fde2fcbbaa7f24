"""The progress line a training run prints every ``log_every`` epochs, written here and read
back here: by ``lstmfcn status`` and the campaign from the runs' logs, and by the progress bar
of a foreground ``lstmfcn train``. The format is the logs' and is kept stable::

    epoch 780/2000  loss 0.00021  acc 1.0000  lr 0.00063  0.193s  best 0.00021@780
    seed 2: epoch 12/40  ...                       (a member of a jax engine group)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(
    r"(?:seed (?P<seed>\d+): )?epoch (?P<epoch>\d+)/(?P<epochs>\d+)\s+loss (?P<loss>\S+)\s+"
    r"acc (?P<acc>\S+)\s+lr (?P<lr>\S+)\s+(?P<seconds>\S+)s\s+best (?P<best>\S+)@(?P<best_epoch>\d+)"
)


@dataclass(frozen=True)
class EpochLine:
    epoch: int
    epochs: int
    loss: float
    accuracy: float
    lr: float
    seconds: float  # of this epoch
    best_loss: float
    best_epoch: int
    seed: int | None = None  # the group member's seed; None for a run trained alone
    text: str = ""  # the line as printed


def format_line(row: dict, best: tuple, epochs: int, prefix: str = "") -> str:
    """The line of an epoch's history ``row`` with the ``best`` (loss, epoch) so far."""
    best_loss, best_epoch = best
    return (
        f"{prefix}epoch {row['epoch']}/{epochs}  loss {row['loss']:.5f}  "
        f"acc {row['accuracy']:.4f}  lr {row['lr']:.3g}  {row['seconds']:.3f}s  "
        f"best {best_loss:.5f}@{best_epoch}"
    )


def parse_line(text: str) -> EpochLine | None:
    """The epoch line ``text`` read back, or None when it is not one (any other output)."""
    m = _LINE.fullmatch(text.strip())
    if m is None:
        return None
    try:
        return EpochLine(
            epoch=int(m["epoch"]),
            epochs=int(m["epochs"]),
            loss=float(m["loss"]),
            accuracy=float(m["acc"]),
            lr=float(m["lr"]),
            seconds=float(m["seconds"]),
            best_loss=float(m["best"]),
            best_epoch=int(m["best_epoch"]),
            seed=None if m["seed"] is None else int(m["seed"]),
            text=text.strip(),
        )
    except ValueError:  # a number that does not read (a line cut short mid-write)
        return None
