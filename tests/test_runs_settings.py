"""Run identity (one home for names and paths) and the config schema (one home for keys,
types, ranges and defaults), as the plan, the CLI and the rules use them."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from lstmfcn_bench import runs, settings
from lstmfcn_bench.cli import main
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.training import TrainConfig
from lstmfcn_bench.workflow_config import checked_config

RUN = runs.Run("GunPoint", "alstmfcn", 64, 2)


def test_run_paths_match_the_rule_patterns():
    for kind in runs.RUN_FILES:
        pattern = runs.pattern(kind)
        filled = pattern.format(dataset=RUN.dataset, model=RUN.model, cells=64, seed=2)
        assert str(RUN.path(kind)) == filled
    assert str(RUN.path("model")) == "results/models/GunPoint/alstmfcn_c64_s2.keras"
    assert str(RUN.path("metrics")) == "results/metrics/GunPoint/alstmfcn_c64_s2.json"


def test_files_beside_the_model_and_back_to_the_run():
    model = RUN.path("model")
    for kind in ("history", "info", "resume"):
        assert runs.beside_model(model, kind) == RUN.path(kind)
        assert runs.stem_of(RUN.path(kind)) == RUN.stem
        assert runs.run_of(RUN.path(kind)) == RUN
    assert runs.history_to_info(RUN.path("history")) == RUN.path("info")
    assert runs.run_of(RUN.path("train_benchmark")) == RUN
    assert runs.run_of(RUN.path("curves")) == RUN
    with pytest.raises(ValueError, match="not named after a run"):
        runs.run_of("results/metrics/GunPoint/summary.json")


def test_display_names_from_either_spelling():
    assert runs.display_name("lstmfcn") == runs.display_name("lstm_fcn") == "LSTM-FCN"
    assert runs.display_name("alstm_fcn") == "ALSTM-FCN"
    assert set(runs.DISPLAY) == set(runs.PUBLISHED_AS) == set(runs.MODELS)
    assert set(runs.KERAS_NAME) == set(runs.KERAS_MODELS)
    assert runs.display_name("minirocket") == "MiniRocket"


def test_schema_enums_come_from_the_code():
    raw = json.loads(
        resources.files("lstmfcn_bench").joinpath("resources", "config.schema.json").read_text()
    )
    assert "enum" not in raw["properties"]["models"]["items"]  # written once, in runs.py
    schema = settings.schema()
    assert schema["properties"]["models"]["items"]["enum"] == list(runs.MODELS)


def test_plan_defaults_are_the_schema_defaults():
    plan = make_plan({"preset": "demo"})
    for key in ("batch_size", "patience", "checkpoint_every", "shuffle"):
        assert plan.train["GunPoint"][key] == settings.default(key)
    assert plan.models == list(runs.PAPER_MODELS)
    assert plan.config["mem_mb"] == settings.default("mem_mb")
    assert TrainConfig().batch_size == settings.default("batch_size")
    assert TrainConfig().plateau_patience == settings.default("patience")


def test_command_line_strings_are_converted_then_checked():
    config = checked_config(
        {
            "preset": "demo",
            "cells": ["8", "64"],
            "gpu": "True",
            "overrides": {"GunPoint": {"epochs": "7"}},
        }
    )
    assert config["cells"] == [8, 64] and config["gpu"] is True
    assert config["overrides"]["GunPoint"]["epochs"] == 7
    with pytest.raises(ConfigError, match="config key 'cells.0'"):
        checked_config({"cells": ["0"]})
    with pytest.raises(ConfigError, match="config key 'overrides.GunPoint.lr': unknown key"):
        checked_config({"overrides": {"GunPoint": {"lr": 1}}})
    with pytest.raises(ConfigError, match="config key 'colour': unknown key"):
        checked_config({"colour": "red"})


@pytest.mark.parametrize(
    "key,field,flag",
    [
        ("batch_size", "batch_size", "--batch-size"),
        ("patience", "plateau_patience", "--patience"),
        ("seeds", "seed", "--seed"),
    ],
)
def test_the_cli_and_the_workflow_share_one_range(key, field, flag, capsys):
    low = settings.minimum(key)
    with pytest.raises(ConfigError, match=f"{field} must be >= {low}"):
        TrainConfig(**{field: low - 1}).validate()
    TrainConfig(**{field: low}).validate()
    value = [low - 1] if key == "seeds" else low - 1
    with pytest.raises(ConfigError, match=f"config key '{key}"):
        checked_config({key: value})
    code = main(["train", "GunPoint", "--root", "/nonexistent", flag, str(low - 1)])
    assert code == 2 and f"{field} must be >= {low}" in capsys.readouterr().err


def test_the_protocol_line_of_the_report_says_what_differs_from_the_paper():
    """The report's captions say which runs they show: never "the paper's protocol" for a
    config that departs from it in epochs, cells, precision, preprocessing or model."""
    from lstmfcn_bench.plan import make_plan

    assert make_plan({"preset": "ucr85"}).protocol_line() == (
        "the paper's protocol (2000 epochs, cells 8/64/128, seeds 0)"
    )
    demo = make_plan({"preset": "demo"}).protocol_line()
    assert demo.startswith("not the paper's protocol (1000 epochs, cells 8, seeds 0:")
    assert "epochs 1000 (the paper's 2000)" in demo
    for change, says in [
        ({"tf32": True}, "tf32 (the paper's fp32)"),
        # (not on the 14 exchanged datasets: tests/test_splits.py)
        ({"normalise": "dataset", "datasets": ["GunPoint"]}, "normalise dataset (the paper's"),
        ({"models": ["lstmfcn_sigmoid"]}, "model lstmfcn_sigmoid (not one of the paper's)"),
        ({"shuffle": False}, "shuffle False (the paper's True)"),
    ]:
        line = make_plan({"preset": "ucr85", **change}).protocol_line()
        assert line.startswith("not the paper's protocol") and says in line, line
