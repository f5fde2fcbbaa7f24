"""The workflow's plan: which runs a config asks for, with every value resolved and checked.

The Snakefile calls `make_plan(config)` once at parse time; rules then look runs up in plain
dicts, so input functions add no per-job cost. Presets supply defaults; keys set in the config
override them; `overrides` change the training settings of single datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import registry
from .errors import ConfigError

MODEL_NAMES = ("lstmfcn", "alstmfcn")

#: Per-preset defaults. `demo` fits ~10 minutes on 2 CPU cores; the others are the paper's.
PRESET_DEFAULTS: dict[str, dict] = {
    "demo": {"epochs": 1000, "cells": [8], "seeds": [0]},
    "ucr85": {"epochs": 2000, "cells": [8, 64, 128], "seeds": [0]},
    "ucr128": {"epochs": 2000, "cells": [8, 64, 128], "seeds": [0]},
}

#: Training settings that may differ per dataset (config `overrides: {Name: {...}}`).
TRAIN_KEYS = ("epochs", "batch_size", "patience", "checkpoint_every", "shuffle")


@dataclass(frozen=True)
class Run:
    dataset: str
    model: str
    cells: int
    seed: int

    @property
    def stem(self) -> str:
        return f"{self.model}_c{self.cells}_s{self.seed}"


@dataclass
class Plan:
    datasets: list[str]
    models: list[str]
    cells: list[int]
    seeds: list[int]
    train: dict[str, dict]  # dataset -> resolved training settings
    runs: list[Run] = field(default_factory=list)
    gpu: bool = False  # training jobs ask for a `gpu` resource
    tf32: bool = False  # TF32 tensor-core maths allowed in training (else full fp32)


def _positive_int(key: str, value, minimum: int = 1) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # `--config cells=[8,64]` arrives as strings
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"config key {key!r}: expected an integer >= {minimum}, got {value!r}")
    return value


def _flag(key: str, value) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(f"config key {key!r}: expected true or false, got {value!r}")
    return value


def _int_list(key: str, values, minimum: int) -> list[int]:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"config key {key!r}: expected a non-empty list, got {values!r}")
    return [_positive_int(key, v, minimum) for v in values]


def make_plan(config: dict) -> Plan:
    """Resolve presets and overrides into datasets × models × cells × seeds, or raise
    ConfigError naming the offending key."""
    preset = config.get("preset", "demo")
    if preset not in PRESET_DEFAULTS:
        raise ConfigError(
            f"config key 'preset': unknown preset {preset!r}; choose one of "
            f"{', '.join(PRESET_DEFAULTS)}"
        )
    defaults = PRESET_DEFAULTS[preset]

    def pick(key):
        value = config.get(key)
        return defaults.get(key) if value is None else value

    names = config.get("datasets") or registry.preset(preset)
    if isinstance(names, str):
        names = [names]
    datasets = []
    for name in names:
        try:
            datasets.append(registry.canonical_name(str(name)))
        except registry.UnknownDatasetError as e:
            raise ConfigError(f"config key 'datasets': {e}") from None
    datasets = list(dict.fromkeys(datasets))

    models = config.get("models") or list(MODEL_NAMES)
    for m in models:
        if m not in MODEL_NAMES:
            raise ConfigError(
                f"config key 'models': unknown model {m!r}; choose from {', '.join(MODEL_NAMES)}"
            )
    cells = _int_list("cells", pick("cells"), 1)
    seeds = _int_list("seeds", pick("seeds"), 0)

    base = {
        "epochs": _positive_int("epochs", pick("epochs")),
        "batch_size": _positive_int("batch_size", config.get("batch_size", 128)),
        "patience": _positive_int("patience", config.get("patience", 100)),
        "checkpoint_every": _positive_int("checkpoint_every", config.get("checkpoint_every", 50)),
        "shuffle": _flag("shuffle", config.get("shuffle", True)),
    }
    overrides = config.get("overrides") or {}
    canonical_overrides = {}
    for name, values in overrides.items():
        try:
            canon = registry.canonical_name(str(name))
        except registry.UnknownDatasetError as e:
            raise ConfigError(f"config key 'overrides': {e}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"config key 'overrides.{name}': expected a mapping")
        for key in values:
            if key not in TRAIN_KEYS:
                raise ConfigError(
                    f"config key 'overrides.{name}.{key}': not a per-dataset setting "
                    f"(choose from {', '.join(TRAIN_KEYS)})"
                )
        canonical_overrides[canon] = values

    train = {}
    for d in datasets:
        settings = dict(base)
        for key, value in canonical_overrides.get(d, {}).items():
            settings[key] = (
                _flag(f"overrides.{d}.shuffle", value)
                if key == "shuffle"
                else _positive_int(f"overrides.{d}.{key}", value)
            )
        train[d] = settings

    runs = [Run(d, m, c, s) for d in datasets for m in models for c in cells for s in seeds]
    gpu = _flag("gpu", config.get("gpu", False))
    tf32 = _flag("tf32", config.get("tf32", False))
    return Plan(datasets, list(models), cells, seeds, train, runs, gpu=gpu, tf32=tf32)
