"""The contributor's campaign (scripts/reproduce): a real workflow run that publishes each
dataset once all its runs are evaluated, and never a dataset with a run missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstmfcn_bench.campaign import complete, parse_words
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.results.readme_block import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "lstmfcn_bench" / "resources" / "demo"


def test_config_words_are_read_as_snakemake_reads_them():
    """As snakemake.cli.parse_config: int, float, True/False, YAML of strings, else the
    string (never a YAML error); the plan then types the strings by the schema."""
    from snakemake.cli import parse_config

    from lstmfcn_bench.plan import make_plan

    words = ["epochs=2", "cells=[8, 64]", "datasets=[GunPoint]", "gpu=true", "tf32=True"]
    words += ["budget_hours=1.5", "source=null", "bad=[", "empty="]
    parsed = parse_words(words)
    assert parsed == parse_config(words)
    assert parsed["cells"] == ["8", "64"] and parsed["gpu"] == "true" and parsed["tf32"] is True
    assert parsed["source"] == "null" and parsed["bad"] == "[" and parsed["empty"] is None
    plan = make_plan({k: parsed[k] for k in ("epochs", "cells", "datasets", "gpu")})
    assert plan.cells == [8, 64] and plan.gpu is True and plan.train["GunPoint"]["epochs"] == 2
    with pytest.raises(ConfigError, match="key=value"):
        parse_words(["epochs"])


def test_a_dataset_is_complete_only_when_every_run_is_evaluated(tmp_path):
    plan = make_plan({"preset": "ucr85", "datasets": ["GunPoint", "Coffee"], "seeds": [0]})
    for run in plan.runs:
        if run.dataset == "GunPoint" or run.model == "lstmfcn":  # Coffee's ALSTM-FCN missing
            for kind in ("model", "metrics"):  # evaluated after training
                path = run.path(kind, tmp_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("{}")
    assert complete(plan, tmp_path) == ["GunPoint"]
    # A run trained again (its resume state exists) holds its dataset back.
    retrained = next(r for r in plan.runs if r.dataset == "GunPoint")
    retrained.path("resume", tmp_path).write_text("")
    assert complete(plan, tmp_path) == []
    retrained.path("resume", tmp_path).unlink()
    # So does a model newer than its metrics (trained again, not yet evaluated).
    os.utime(retrained.path("model", tmp_path), (time.time() + 60, time.time() + 60))
    assert complete(plan, tmp_path) == []


@pytest.mark.slow
def test_a_workflow_stopped_by_a_stale_lock_is_explained(tmp_path):
    """Only this campaign's part of the appended log counts: an old lock error does not."""
    from lstmfcn_bench.campaign import lock_hint

    log = tmp_path / "campaign_snakemake.log"
    log.write_text("Building DAG of jobs...\nLockException:\nError: Directory cannot be locked.\n")
    since = log.stat().st_size
    assert "snakemake --unlock" in lock_hint(log, 0)
    with open(log, "a") as f:
        f.write("Building DAG of jobs...\nMissingInputException\n")
    assert lock_hint(log, since) is None


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
    cmd += ["--source", str(source)]
    cmd += ["epochs=2", "cells=[8]", "cache=results/cache", "datasets=[GunPoint,ItalyPowerDemand]"]

    def campaign(*extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cmd, *extra], cwd=wd, env=env, capture_output=True, text=True, timeout=timeout
        )

    # Two epochs are not the paper's protocol: publish refuses, the campaign says so and goes on.
    done = campaign()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "campaign: seed 0, 2 datasets" in done.stdout
    assert "of 4 runs done" in done.stdout and "ETA " in done.stdout  # the queue's progress
    assert "not published (" in done.stdout and "not the paper's protocol" in done.stdout
    assert list((wd / "reproduction/runs").iterdir()) == []

    # With --any-protocol the finished runs are published (nothing trains again).
    done = campaign("--any-protocol")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "published " in done.stdout and "8 records added" not in done.stdout
    for name in ("GunPoint", "ItalyPowerDemand"):
        assert name in done.stdout.split("published ", 1)[1]
        for model in ("lstmfcn", "alstmfcn"):
            record = json.loads(
                (wd / "reproduction/runs" / name / f"{model}_c8_s0.json").read_text()
            )
            assert record["provenance"]["protocol"]["epochs"] == 2
            assert (wd / "reproduction/weights" / name / f"{model}_c8_s0.keras").is_file()
    assert "git add reproduction/ README.md && git commit -m" in done.stdout
    assert (wd / "reproduction/table/summary.md").is_file()
    readme = (wd / "README.md").read_text()
    assert "stale" not in readme and "Built from" in readme
    assert not (wd / "results/figures").exists()  # the campaign asks only for the metrics

    # Everything is published: a third campaign has nothing to train and says so in one line.
    again = campaign("--any-protocol", timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0
    assert "nothing left to train" in again.stderr
