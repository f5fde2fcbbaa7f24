"""Every setting a user gives, with its type, range and default: the config schema.

``resources/config.schema.json`` is the one home of the workflow config's keys, types, ranges
and defaults. The choices that code defines (models, presets, normalisation, missing values)
are added to it here from that code, so they are written once. The workflow's plan validates
a config against :func:`schema`; the CLI and :class:`~lstmfcn_bench.training.config.TrainConfig`
check their numbers with :func:`check_int`, which reads the same ranges.
"""

from __future__ import annotations

import copy
import json
import numbers
from functools import cache
from importlib import resources

from .errors import ConfigError


@cache
def _schema() -> dict:
    from .data.preprocess import MISSING, NORMALISE
    from .data.registry import PRESETS
    from .runs import MODELS, PAPER_MODELS

    text = resources.files("lstmfcn_bench").joinpath("resources", "config.schema.json")
    schema = json.loads(text.read_text("utf-8"))
    props = schema["properties"]
    props["preset"]["enum"] = list(PRESETS)
    props["models"]["items"]["enum"] = list(MODELS)
    props["models"]["default"] = list(PAPER_MODELS)
    props["normalise"]["enum"] = list(NORMALISE)
    props["missing"]["enum"] = list(MISSING)
    return schema


def schema() -> dict:
    """The config schema (a copy: callers may not change the shared one)."""
    return copy.deepcopy(_schema())


def _number_rule(key: str) -> dict:
    """The schema of an integer setting; list settings (cells, seeds) give their items'."""
    prop = _schema()["properties"][key]
    if "items" in prop:
        prop = prop["items"]
    ref = prop.get("$ref")
    if ref:
        prop = _schema()["$defs"][ref.rsplit("/", 1)[-1]]
    return prop


def default(key: str):
    """The schema's default of ``key`` (None where a preset decides)."""
    return copy.deepcopy(_schema()["properties"][key].get("default"))


def choices(key: str) -> tuple:
    """The values the schema allows for ``key``."""
    return tuple(_schema()["properties"][key]["enum"])


def minimum(key: str) -> int:
    return int(_number_rule(key)["minimum"])


def check_int(key: str, value, what: str | None = None) -> int:
    """``value`` as an int within the schema's range for ``key``, or ConfigError saying
    ``<what> must be >= <minimum>`` (or ``<= <maximum>``)."""
    what = what or key
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    low, high = minimum(key), _number_rule(key).get("maximum")
    if value < low:
        raise ConfigError(f"{what} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ConfigError(f"{what} must be <= {high}, got {value}")
    return int(value)
