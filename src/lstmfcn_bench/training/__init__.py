"""Training one run with the paper's protocol: its settings (config), the protocol's pieces
(protocol), the resume state (resume), the life of a run that both engines share (lifecycle),
the epoch loop (loop), the files it leaves (outputs), the JAX engine that trains the seeds of
one configuration as one program (jax_engine), and the choice between the two (engines)."""

from .config import TrainConfig
from .lifecycle import TrainingInterrupted, TrainResult
from .loop import train

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "train"]
