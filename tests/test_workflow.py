"""The Snakemake workflow for real: lint, the paper-sized DAG, bad configs, a tiny end-to-end run,
and dry-run assertions that a rerun touches only what a change made stale."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TINY = {
    "datasets": ["GunPoint", "ItalyPowerDemand"],  # the dearer first: jobs start cheapest first
    "epochs": 3,
    "threads": 1,
    "cache": "results/cache",
}


def copy_workflow(dest: Path) -> Path:
    for item in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / item, dest / item)
    for item in ("workflow", "envs"):
        shutil.copytree(ROOT / item, dest / item)
    (dest / "reports").mkdir()
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # The rules call the `lstmfcn` console script of this environment.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run([*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def write_config(workdir: Path, **changes) -> Path:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(TINY)
    config.update(changes)
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def jobs(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    table = dry_run_output.split("Job stats:")[1] if "Job stats:" in dry_run_output else ""
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


def planned(dry_run_output: str, rule: str) -> list[str]:
    """The output files of every job of `rule` in a dry run."""
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_output)
    outs = []
    for b in blocks:
        if re.match(rf"(?:local)?rule {rule}:", b.strip()):
            m = re.search(r"output: (.*)", b)
            outs.append(m[1] if m else "")
    return outs


def test_lint_is_clean():
    done = snakemake(ROOT, "--lint")
    assert "Congratulations" in done.stdout + done.stderr


def test_paper_dag_builds_without_data(tmp_path):
    wd = copy_workflow(tmp_path)
    out = snakemake(wd, "-n", "--config", "preset=ucr85").stdout
    assert jobs(out) == {
        "fetch_dataset": 85,
        "train": 510,
        "evaluate": 510,
        "aggregate": 1,
        "all": 1,
        "cam": 170,
        "context": 85,
        "curves": 510,
        "scatter": 1,
    }
    assert "results/models/FiftyWords/alstmfcn_c128_s0.keras" in out
    (tables,) = planned(out, "aggregate")
    for name in ("today.csv", "today.html", "today_cd.png", "today_cd.svg"):
        assert f"results/tables/{name}" in tables, name


def test_a_dry_run_says_which_preset_datasets_a_local_source_lacks(tmp_path):
    wd = copy_workflow(tmp_path)
    source = tmp_path / "ucr"
    for name in ("GunPoint", "Coffee"):
        (source / name).mkdir(parents=True)
        for split in ("TRAIN", "TEST"):
            (source / name / f"{name}_{split}.tsv").write_text("1\t0.1\t0.2\n")
    done = snakemake(wd, "-n", "--config", "preset=ucr85", f"source={source}")
    assert f"source {source} holds 2 of the ucr85 preset's 85 datasets" in done.stderr
    assert jobs(done.stdout)["fetch_dataset"] == 2


@pytest.mark.parametrize(
    "config,message",
    [
        ({"datasets": ["GunPont"]}, "config key 'datasets': unknown UCR dataset 'GunPont'"),
        ({"cells": [0]}, "cells"),
        ({"models": ["resnet"]}, "models"),
        ({"epochs": -5}, "epochs"),
        ({"overrides": {"GunPoint": {"epochs": 0}}}, "overrides"),
        ({"overrides": {"GunPoint": {"lr": 1}}}, "lr"),
        ({"colour": "red"}, "colour"),
        ({"datasets": []}, "config key 'datasets': [] should be non-empty"),
        ({"cells": [8, 100000]}, "config key 'cells.1'"),
        ({"threads": 0}, "config key 'threads'"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, config, message):
    wd = copy_workflow(tmp_path)
    done = snakemake(wd, "-n", "--configfile", str(write_config(wd, **config)), check=False)
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert message in text, text
    assert "rule train" not in text and not (wd / "results").exists()


def test_paths_with_spaces_and_shell_characters_reach_the_commands(tmp_path):
    """`source` and `cache` are quoted in the data rule: a real fetch through them."""
    (tmp_path / "work dir").mkdir()
    wd = copy_workflow(tmp_path / "work dir")
    source = tmp_path / "sp ace; $(touch pwned)"
    source.mkdir()
    demo = Path(__import__("lstmfcn_bench").__file__).parent / "resources" / "demo"
    shutil.copy(demo / "GunPoint.zip", source / "GunPoint.zip")
    cache = tmp_path / "ca che & co"
    done = snakemake(
        wd,
        "--cores",
        "1",
        "results/data/GunPoint/meta.json",
        "--config",
        f"source={source}",
        f"cache={cache}",
        "datasets=[GunPoint]",
    )
    assert (wd / "results/data/GunPoint/data.npz").exists(), done.stdout
    assert list((cache / "downloads").rglob("GunPoint.zip")) or (cache / "raw/GunPoint").is_dir()
    assert not (wd / "pwned").exists() and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("flag", ["true", "false"])
def test_gpu_and_tf32_flags_from_the_command_line(tmp_path, flag):
    """`--config gpu=true` arrives as the string 'true' (and 'false' must not count as set):
    training jobs then ask for a gpu resource and train with --tf32."""
    wd = copy_workflow(tmp_path)
    out = snakemake(
        wd, "-n", "-p", "--config", f"gpu={flag}", f"tf32={flag}", "datasets=[GunPoint]"
    ).stdout
    blocks = [b for b in re.split(r"\n(?=rule \w+:)", out) if b.startswith("rule train:")]
    assert len(blocks) == 2
    for block in blocks:
        assert ("gpu=1" in block) == (flag == "true"), block
        assert ("--tf32" in block) == (flag == "true"), block
        assert "lstmfcn train GunPoint" in block


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One real run of the whole workflow on two datasets, two models, three epochs."""
    wd = copy_workflow(tmp_path_factory.mktemp("workflow"))
    cfg = write_config(wd)
    snakemake(wd, "--cores", "2", "--configfile", str(cfg))
    return wd


@pytest.mark.slow
def test_end_to_end_outputs(tiny_run):
    wd = tiny_run
    for ds in ("ItalyPowerDemand", "GunPoint"):
        assert (wd / f"results/data/{ds}/data.npz").exists()
        for model in ("lstmfcn", "alstmfcn"):
            run = f"{ds}/{model}_c8_s0"
            for path in (
                f"results/models/{run}.keras",
                f"results/models/{run}_history.csv",
                f"results/metrics/{run}.json",
                f"results/logs/train/{run}.log",
                f"results/benchmarks/train/{run}.tsv",
            ):
                assert (wd / path).stat().st_size > 0, path
            assert "epoch 3/3" in (wd / f"results/logs/train/{run}.log").read_text()
    long = pd.read_csv(wd / "results/tables/accuracy.csv")
    assert len(long) == 4 and set(long["model"]) == {"lstmfcn", "alstmfcn"}
    summary = pd.read_csv(wd / "results/tables/summary.csv")
    assert set(summary["dataset"]) == {"ItalyPowerDemand", "GunPoint"}
    gp = summary.set_index("dataset").loc["GunPoint"]
    assert gp["LSTM-FCN"] == 1.0  # the published number sits beside ours
    assert "too few datasets" in (wd / "results/tables/stats.csv").read_text()
    page = (wd / "results/tables/today.html").read_text()
    assert "Covered: 2 of the paper&#x27;s 85 datasets." in page
    assert (wd / "results/tables/today_cd.png").stat().st_size > 0
    figures = [
        "scatter.png",
        "GunPoint/cam_lstmfcn.png",
        "GunPoint/cam_alstmfcn.png",
        "GunPoint/context_alstmfcn.png",
        "ItalyPowerDemand/curves_alstmfcn_c8_s0.png",
    ]
    for fig in figures:
        png = wd / "results/figures" / fig
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.with_suffix(".svg").exists()


@pytest.mark.slow
def test_minirocket_joins_the_keras_runs_as_a_model_of_the_workflow(tiny_run, tmp_path):
    """models: [..., minirocket] beside finished Keras runs trains and evaluates only its own
    runs (one job each, no figures), and the table compares it with the bake-off."""
    wd = shutil.copytree(tiny_run, tmp_path / "wd", symlinks=True)
    cfg = str(write_config(wd, models=["lstmfcn", "alstmfcn", "minirocket"]))
    out = snakemake(wd, "-n", "--configfile", cfg).stdout
    assert jobs(out) == {
        "train_baseline": 2, "evaluate": 2, "aggregate": 1, "scatter": 1, "all": 1
    }  # fmt: skip
    snakemake(wd, "--cores", "2", "--configfile", cfg)
    for ds in ("ItalyPowerDemand", "GunPoint"):
        for path in (
            "models/{}/minirocket_s0.joblib",
            "models/{}/minirocket_s0_train.json",
            "logs/train/{}/minirocket_s0.log",
            "benchmarks/train/{}/minirocket_s0.tsv",
        ):
            assert (wd / "results" / path.format(ds)).stat().st_size > 0, path
        metrics = json.loads((wd / f"results/metrics/{ds}/minirocket_s0.json").read_text())
        assert (metrics["model"], metrics["cells"]) == ("minirocket", 0)
    summary = pd.read_csv(wd / "results/tables/summary.csv", index_col="dataset")
    gp = summary.loc["GunPoint"]
    assert gp["minirocket_diff"] == pytest.approx(
        gp["minirocket_selected_mean"] - gp["MiniROCKET (bake-off)"]
    )
    # Trained on the archive's split: beside the bake-off in today.csv, not in the paper-split
    # statistics (for 14 datasets that split tests other series).
    stats = pd.read_csv(wd / "results/tables/stats.csv")
    assert "MiniRocket (ours)" not in set(stats["other"]) and len(stats) > 0
    today = pd.read_csv(wd / "results/tables/today.csv", index_col="dataset")
    assert today.loc[["GunPoint", "ItalyPowerDemand"], "MiniRocket (ours)"].notna().all()
    assert "Nothing to be done" in snakemake(wd, "-n", "--configfile", cfg).stdout


@pytest.mark.slow
def test_jobs_start_cheapest_dataset_first(tmp_path):
    """The config lists GunPoint first; ItalyPowerDemand costs less, so on one core its fetch,
    training and evaluation all run before GunPoint's (the rules' priority, Plan.priority)."""
    wd = copy_workflow(tmp_path)
    cfg = write_config(wd, models=["lstmfcn"], epochs=1)
    targets = [f"results/metrics/{d}/lstmfcn_c8_s0.json" for d in TINY["datasets"]]
    snakemake(wd, *targets, "--cores", "1", "--configfile", str(cfg))
    (log,) = (wd / ".snakemake/log").glob("*.snakemake.log")
    started = re.findall(
        r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+wildcards: dataset=(\w+)", log.read_text(), re.M
    )
    order = ["fetch_dataset", "train", "evaluate"]
    assert started == [(rule, "ItalyPowerDemand") for rule in order] + [
        (rule, "GunPoint") for rule in order
    ]


@pytest.mark.slow
def test_rerun_touches_only_what_is_stale(tiny_run):
    wd = tiny_run
    cfg = ["--configfile"]

    def dry(**changes):
        return snakemake(wd, "-n", *cfg, str(write_config(wd, **changes))).stdout

    assert "Nothing to be done" in dry()

    # One dataset's override: only its runs retrain.
    out = dry(overrides={"GunPoint": {"epochs": 4}})
    assert jobs(out) == {
        "train": 2,
        "evaluate": 2,
        "aggregate": 1,
        "all": 1,
        "cam": 2,
        "context": 1,
        "curves": 2,
        "scatter": 1,
    }
    assert all("/GunPoint/" in o for o in planned(out, "train"))

    # A new seed: only the new runs.
    out = dry(seeds=[0, 1])
    assert jobs(out)["train"] == 4
    assert all("_s1" in o for o in planned(out, "train"))

    # A new dataset: fetched and trained alone.
    out = dry(datasets=["ItalyPowerDemand", "GunPoint", "ArrowHead"])
    assert jobs(out)["fetch_dataset"] == 1 and jobs(out)["train"] == 2
    assert all("/ArrowHead/" in o for o in planned(out, "train"))

    # Editing a figure rule reruns that figure and no training.
    rules = wd / "workflow/rules/figures.smk"
    original = rules.read_text()
    try:
        rules.write_text(original.replace("--samples 2", "--samples 3"))
        out = dry()
        assert jobs(out) == {"cam": 4, "all": 1}
    finally:
        rules.write_text(original)


@pytest.mark.slow
def test_the_jax_engine_end_to_end(tmp_path):
    """engine: jax trains one job per dataset x model x cells for all seeds; evaluation,
    tables, figures and the report are as with the Keras loop."""
    wd = copy_workflow(tmp_path)
    cfg = write_config(wd, engine="jax", seeds=[0, 1], epochs=4, checkpoint_every=2)
    out = snakemake(wd, "-n", "--configfile", str(cfg)).stdout
    assert jobs(out)["train_group"] == 4 and "train" not in jobs(out)
    assert jobs(out)["evaluate"] == 8
    snakemake(wd, "--cores", "2", "--configfile", str(cfg))
    for ds in ("ItalyPowerDemand", "GunPoint"):
        for model in ("lstmfcn", "alstmfcn"):
            for seed in (0, 1):
                run = f"{ds}/{model}_c8_s{seed}"
                info = json.loads((wd / f"results/models/{run}_train.json").read_text())
                assert info["engine"] == "jax" and info["backend"] == "jax"
                assert info["config"]["seed"] == seed and info["epochs_run"] == 4
                metrics = json.loads((wd / f"results/metrics/{run}.json").read_text())
                assert metrics["trained_on"] is None and 0 <= metrics["test_accuracy"] <= 1
            group = wd / f"results/benchmarks/train/{ds}/{model}_c8_s0-1.tsv"
            assert group.exists()
    timing = pd.read_csv(wd / "results/tables/timing.csv")
    assert len(timing) == 8 and timing["max_rss_mb"].notna().all()
    summary = pd.read_csv(wd / "results/tables/summary.csv", index_col="dataset")
    assert (summary["n_seeds"] == 2).all()
    snakemake(wd, "--report", "reports/report.html", "--configfile", str(cfg))
    assert (wd / "reports/report.html").stat().st_size > 10_000

    # One dataset's override retrains that dataset's groups only.
    changed = write_config(
        wd, engine="jax", seeds=[0, 1], epochs=4, checkpoint_every=2,
        overrides={"GunPoint": {"epochs": 5}},
    )  # fmt: skip
    out = snakemake(wd, "-n", "--configfile", str(changed)).stdout
    assert jobs(out)["train_group"] == 2
    assert all("/GunPoint/" in o for o in planned(out, "train_group"))


RECORDS = ROOT / "reproduction"


def released_config(**changes) -> list[str]:
    config = {"preset": "ucr85", "released": "true", "records": str(RECORDS), **changes}
    return ["--config", *(f"{k}={v}" for k, v in config.items())]


def test_the_released_path_plans_no_training(tmp_path):
    """released: true evaluates each released model (one per dataset and model for seed 0)
    and draws its figures; nothing is trained."""
    wd = copy_workflow(tmp_path)
    out = snakemake(wd, "-n", *released_config(datasets="[GunPoint]")).stdout
    assert jobs(out) == {
        "fetch_dataset": 1,
        "evaluate": 2,
        "aggregate": 1,
        "scatter": 1,
        "cam": 2,
        "context": 1,
        "all": 1,
    }
    evaluated = sorted(p.name for p in (RECORDS / "weights/GunPoint").glob("*.keras"))
    assert sorted(Path(o).name for o in planned(out, "evaluate")) == [
        name.replace(".keras", ".json") for name in evaluated
    ]
    assert "results/models" not in out
    # A released model is drawn only after its evaluation has checked its weights.
    cam = [
        b for b in re.split(r"\n(?=(?:local)?rule \w+:)", out) if b.strip().startswith("rule cam")
    ]
    assert cam and all("results/metrics/GunPoint/" in b.split("output:")[0] for b in cam)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"seeds": "[1]"}, "config key 'seeds': seed(s) [1] have no released models"),
        ({"skip_published": "reproduction"}, "'skip_published': released: true evaluates"),
        ({"budget_hours": 1}, "config key 'budget_hours': released: true evaluates"),
        ({"datasets": "[Adiac]"}, "releases no model of the datasets and models asked for"),
        ({"datasets": "[GunPoint,Adiac]"}, "releases no model of Adiac"),
        ({"cells": "[8]"}, "config key 'cells': released: true evaluates the released models"),
        ({"shuffle": "false"}, "config key 'shuffle': released: true evaluates"),
        ({"normalise": "dataset"}, "config key 'normalise': released: true evaluates"),
        ({"records": "nowhere"}, "config key 'records': nowhere is not a reproduction folder"),
        ({"models": "[lstmfcn,minirocket]"}, "'models': released: true evaluates released LSTM"),
    ],
)
def test_a_released_plan_that_cannot_be_met_stops_before_any_job(tmp_path, changes, message):
    wd = copy_workflow(tmp_path)
    done = snakemake(wd, "-n", *released_config(**changes), check=False)
    assert done.returncode != 0 and message in done.stdout + done.stderr
    assert not (wd / "results").exists()


@pytest.mark.slow
def test_the_released_path_reproduces_the_records(tmp_path):
    """A user's check of the table without training: every metric equals its record's, the
    headline says the numbers come from released weights, and no model is trained."""
    wd = copy_workflow(tmp_path)
    snakemake(wd, "--cores", "2", *released_config(datasets="[GunPoint]"))
    metrics = sorted((wd / "results/metrics/GunPoint").glob("*.json"))
    assert len(metrics) == 2
    for path in metrics:
        m = json.loads(path.read_text())
        record = json.loads((RECORDS / "runs/GunPoint" / path.name).read_text())
        assert m["released"] == record["released"]
        assert m["confusion_matrix"] == record["confusion_matrix"]
        assert m["test_accuracy"] == record["test_accuracy"]
    headline = (wd / "results/tables/summary.md").read_text()
    assert "From released weights" in headline and "nothing was trained" in headline
    from lstmfcn_bench.results.summary import read_summary

    summary = read_summary(wd / "results/tables/summary.csv")  # one cells count, still the paper's
    assert summary.loc["GunPoint", "from_released"] and summary.loc["GunPoint", "protocol"] == ""
    for fig in ("cam_lstmfcn.png", "cam_alstmfcn.png", "context_alstmfcn.png"):
        assert (wd / "results/figures/GunPoint" / fig).stat().st_size > 0
    assert "Nothing was trained here" in (wd / "results/tables/timing.html").read_text()
    assert not (wd / "results/models").exists()


def test_report_renders_the_results_table(tiny_run):
    wd = tiny_run
    snakemake(wd, "--report", "reports/report.html", "--configfile", str(wd / "tiny.yaml"))
    html = (wd / "reports/report.html").read_text()
    for item in (
        "summary.html",
        "stats.html",
        "cd_diagram.png",
        "today.html",
        "timing.html",
        "scatter.png",
        "cam_lstmfcn.png",
        "context_alstmfcn.png",
        "curves_alstmfcn_c8_s0.png",
    ):
        assert item in html, item
    for category in ("Class activation maps", "Attention context", "Training curves"):
        assert category in html


@pytest.mark.slow
def test_report_table_renders_in_headless_chromium(tiny_run, chromium):
    """Open the report as a user does (category → file → view) and read the table."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wd = tiny_run
    report = wd / "reports/report.html"
    if not report.exists():
        snakemake(wd, "--report", "reports/report.html", "--configfile", str(wd / "tiny.yaml"))
    browser = chromium()
    browser.get(report.as_uri())
    wait = WebDriverWait(browser, 30)
    wait.until(ec.element_to_be_clickable((By.XPATH, "//span[text()='1. Results table']")))
    browser.find_element(By.XPATH, "//span[text()='1. Results table']").click()
    eye = "//tr[td[contains(., 'summary.html')]]//a[@iconname='eye']"
    wait.until(ec.element_to_be_clickable((By.XPATH, eye))).click()
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
    table = wait.until(ec.presence_of_element_located((By.TAG_NAME, "table")))
    text = table.text
    assert "GunPoint" in text and "ItalyPowerDemand" in text and "LSTM-FCN" in text
