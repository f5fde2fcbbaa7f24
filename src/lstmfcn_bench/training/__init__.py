"""Training one run with the paper's protocol: its settings (config), the protocol's pieces
(protocol), the resume state (resume), the epoch loop (loop) and the files it leaves (outputs)."""

from .config import TrainConfig
from .loop import TrainingInterrupted, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "train"]
