"""The two training engines, and the one place that decides between them.

``keras``: the epoch loop of loop.py, one run at a time, on whichever Keras backend runs (a
workflow job per run). ``jax``: the seeds of one run configuration as one compiled program
(jax_engine.py), on Keras's JAX backend (a workflow job per dataset × model × cells). The CLI
(``lstmfcn train --engine``) and the workflow's rules (workflow/rules/train.smk) ask here
which jobs an engine makes, which backend it needs and how it trains.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import settings
from ..errors import ConfigError
from .config import TrainConfig
from .lifecycle import TrainResult

#: The Keras backend an engine needs; an engine not listed runs on any.
_BACKEND = {"jax": "jax"}


def trains_groups(engine: str) -> bool:
    """Whether ``engine`` trains all seeds of a dataset × model × cells as one group (one
    job, one ``--seed`` list), rather than one run at a time."""
    engines = settings.choices("engine")
    if engine not in engines:
        raise ConfigError(f"unknown engine {engine!r}; choose one of: {', '.join(engines)}")
    return engine == "jax"


def backend_assignment(engine: str) -> str:
    """The shell words that put a job of ``engine`` on its Keras backend (``KERAS_BACKEND=jax ``
    for jax), or nothing for an engine that runs on any."""
    backend = _BACKEND.get(engine)
    return f"KERAS_BACKEND={backend} " if backend else ""


def use_backend(engine: str) -> None:
    """Before Keras is first imported: the backend ``engine`` needs for this process, unless
    ``KERAS_BACKEND`` already names one; ConfigError when the engine's library is missing."""
    backend = _BACKEND.get(engine)
    if backend is None:
        return
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        raise ConfigError(
            "--engine jax needs JAX: pip install 'lstmfcn-bench[jax]' "
            "(on a GPU: pip install 'jax[cuda12]')"
        )
    os.environ.setdefault("KERAS_BACKEND", backend)


def train_runs(
    engine: str,
    dataset,
    configs: list[TrainConfig],
    model_paths: list[Path],
    *,
    log=print,
    log_every: int = 1,
) -> list[TrainResult]:
    """Train the runs ``configs`` (one configuration, distinct seeds) into ``model_paths`` with
    ``engine``: as one group, or one after another."""
    if trains_groups(engine):
        from .jax_engine import train_group

        return train_group(dataset, configs, model_paths, log=log, log_every=log_every)
    from .loop import train

    return [
        train(dataset, c, o, log=log, log_every=log_every)
        for c, o in zip(configs, model_paths, strict=True)
    ]
