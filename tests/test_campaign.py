"""The contributor's campaign (scripts/reproduce): a real workflow run that publishes each
dataset once all its runs are evaluated, and never a dataset with a run missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lstmfcn_bench.campaign import complete, parse_words
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.results.readme_block import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "lstmfcn_bench" / "resources" / "demo"


def test_config_words_are_read_as_snakemake_reads_them():
    assert parse_words(["epochs=2", "cells=[8, 64]", "datasets=[GunPoint]", "gpu=true"]) == {
        "epochs": 2,
        "cells": [8, 64],
        "datasets": ["GunPoint"],
        "gpu": True,
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_words(["epochs"])


def test_a_dataset_is_complete_only_when_every_run_is_evaluated(tmp_path):
    plan = make_plan({"preset": "ucr85", "datasets": ["GunPoint", "Coffee"], "seeds": [0]})
    for run in plan.runs:
        if run.dataset == "GunPoint" or run.model == "lstmfcn":  # Coffee's ALSTM-FCN missing
            path = run.path("metrics", tmp_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
    assert complete(plan, tmp_path) == ["GunPoint"]


@pytest.mark.slow
def test_a_campaign_trains_publishes_and_says_what_to_commit(tmp_path):
    wd = tmp_path / "project"
    wd.mkdir()
    for item in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / item, wd / item)
    for item in ("workflow", "envs"):
        shutil.copytree(ROOT / item, wd / item)
    source = tmp_path / "source"
    source.mkdir()
    for name in ("GunPoint", "ItalyPowerDemand"):
        shutil.copy(DEMO / f"{name}.zip", source / f"{name}.zip")
    (wd / "reproduction" / "runs").mkdir(parents=True)
    (wd / "README.md").write_text(f"# project\n\n{BEGIN}\nstale\n{END}\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "lstmfcn_bench.campaign", "--every", "2", "--cores", "2"]
    cmd += ["--source", str(source), "--any-protocol"]
    cmd += ["epochs=2", "cells=[8]", "cache=results/cache", "datasets=[GunPoint,ItalyPowerDemand]"]
    done = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "campaign: seed 0, 2 datasets" in done.stdout
    for name in ("GunPoint", "ItalyPowerDemand"):
        assert f"published {name}" in done.stdout or f", {name}" in done.stdout, done.stdout
        for model in ("lstmfcn", "alstmfcn"):
            record = json.loads(
                (wd / "reproduction/runs" / name / f"{model}_c8_s0.json").read_text()
            )
            assert record["provenance"]["protocol"]["epochs"] == 2
    assert "git add reproduction/" in done.stdout
    assert (wd / "reproduction/table/summary.md").is_file()
    readme = (wd / "README.md").read_text()
    assert "stale" not in readme and "2 runs" not in readme and "Built from" in readme

    # Everything is published: a second campaign has nothing to train and says so in one line.
    again = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0
    assert "nothing left to train" in again.stderr
