"""`lstmfcn status`: where the runs stand, read back from the files real runs write (a tiny
real training, a real run killed mid-way), the ETA's arithmetic on a tree of hand-made files,
the errors and `--watch`; and what a foreground `lstmfcn train` shows on a terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lstmfcn_bench.cli import main
from lstmfcn_bench.cost import CostModel
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.run_status import estimate, survey
from lstmfcn_bench.runs import Run
from lstmfcn_bench.status_report import WIDTH, report, watch
from lstmfcn_bench.training.console import EpochConsole, shows_bar
from lstmfcn_bench.training.epoch_line import format_line, parse_line
from lstmfcn_bench.training.resume import ResumeState

#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("GunPoint", "ItalyPowerDemand")
CLI = [sys.executable, "-m", "lstmfcn_bench.cli"]


def test_an_epoch_line_reads_back_as_training_prints_it():
    row = {"epoch": 780, "loss": 0.000214, "accuracy": 1.0, "lr": 0.00063, "seconds": 0.1934}
    text = format_line(row, (0.00021, 780), 2000)
    assert text == (
        "epoch 780/2000  loss 0.00021  acc 1.0000  lr 0.00063  0.193s  best 0.00021@780"
    )
    line = parse_line(text)
    assert (line.epoch, line.epochs, line.loss, line.seconds, line.seed) == (
        780,
        2000,
        0.00021,
        0.193,
        None,
    )
    assert parse_line(format_line(row, (0.1, 3), 2000, prefix="seed 2: ")).seed == 2
    for other in (
        "resuming x.keras from epoch 51 (lr 0.001, best loss 0.1 at epoch 50)",
        "done: kept epoch 3 (train loss 0.5), 3 epochs in 1.0s -> x.keras",
        "epoch 12/40  loss 0.1",
    ):  # cut short mid-write
        assert parse_line(other) is None


# --- a tree of real runs ------------------------------------------------------------------------

TINY = {"datasets": ["GunPoint", "ItalyPowerDemand"], "models": ["lstmfcn"], "cells": [8]}
TINY.update(seeds=[0], epochs=3, overrides={"ItalyPowerDemand": {"epochs": 400}})


def _train(data_root: Path, results: Path, name: str, *extra: str) -> tuple[list, Path]:
    """The workflow's training command of `name` with its log, as the train rule runs it."""
    log = results / "logs" / "train" / name / "lstmfcn_c8_s0.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*CLI, "train", name, "--root", str(data_root), "--threads", "1", "--log-every", "1"]
    return [*cmd, "--out", str(results / "models" / name), *extra], log


@pytest.fixture(scope="module")
def real_tree(data_root, tmp_path_factory) -> Path:
    """GunPoint trained to the end (3 epochs), ItalyPowerDemand killed mid-way (SIGKILL after
    its 5th epoch, resume states every 2 epochs)."""
    results = tmp_path_factory.mktemp("real") / "results"
    cmd, log = _train(data_root, results, "GunPoint", "--epochs", "3")
    with open(log, "w") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True, timeout=600)
    cmd, log = _train(data_root, results, "ItalyPowerDemand", "--epochs", "400")
    with open(log, "w") as f:
        proc = subprocess.Popen([*cmd, "--checkpoint-every", "2"], stdout=f, stderr=f)
    deadline = time.time() + 600
    while "epoch 5/400" not in log.read_text() and proc.poll() is None:
        assert time.time() < deadline, log.read_text()
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return results


@pytest.mark.slow
def test_a_finished_run_reads_back_done_with_its_epochs_and_speed(real_tree):
    log = (real_tree / "logs/train/GunPoint/lstmfcn_c8_s0.log").read_text()
    # Not a terminal: the plain epoch lines, every epoch, as before.
    assert [parse_line(t).epoch for t in log.splitlines() if parse_line(t)] == [1, 2, 3]
    assert "\r" not in log and "[###" not in log
    (done,) = [s for s in survey(real_tree, make_plan(TINY)) if s.run.dataset == "GunPoint"]
    info = json.loads((real_tree / "models/GunPoint/lstmfcn_c8_s0_train.json").read_text())
    assert (done.state, done.epoch, done.epochs, done.remaining) == ("done", 3, 3, 0)
    assert done.seconds_per_epoch == pytest.approx(info["seconds"] / 3)
    assert done.loss == pytest.approx(info["train_loss"])


@pytest.mark.slow
def test_a_run_killed_mid_way_is_paused_and_resumable_not_done(
    real_tree, tmp_path, monkeypatch, capsys
):
    resume = Run("ItalyPowerDemand", "lstmfcn", 8, 0).path("resume", real_tree)
    saved = ResumeState.summary_of(resume)["next_epoch"]
    assert saved >= 4 and saved % 2 == 0
    plan = make_plan(TINY)
    # Its log has just been written: until it has been quiet a while, it reads as running.
    written = real_tree / "logs/train/ItalyPowerDemand/lstmfcn_c8_s0.log"
    just_after = written.stat().st_mtime + 1
    (now,) = [
        s for s in survey(real_tree, plan, now=just_after) if s.run.dataset == "ItalyPowerDemand"
    ]
    assert now.state == "running" and now.epoch >= 5
    later = time.time() + 600
    (paused,) = [
        s for s in survey(real_tree, plan, now=later) if s.run.dataset == "ItalyPowerDemand"
    ]
    assert (paused.state, paused.epoch, paused.remaining) == ("paused", saved, 400 - saved)
    assert paused.seconds_per_epoch > 0

    # The command, from a folder whose config.yaml is the plan, updated by --config words.
    (tmp_path / "config.yaml").write_text(json.dumps({**TINY, "epochs": 2}))
    monkeypatch.chdir(tmp_path)
    assert main(["status", str(real_tree), "--config", "epochs=3"]) == 0
    head = capsys.readouterr().out.splitlines()[1]
    assert head == "plan: config.yaml + --config epochs=3; 2 datasets, 2 runs"
    out = report(real_tree, plan, "plan", now=later)
    assert any(line.split()[:3] == ["ItalyPowerDemand", "lstmfcn_c8_s0", "paused"] for line in out)
    assert f"{saved}/400" in "\n".join(out)
    assert "plan: 1 of 2 runs done, 0 running, 1 paused, 0 failed, 0 not started" in out
    assert all(len(line) <= WIDTH for line in out)


# --- the ETA's arithmetic -----------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _log_lines(epochs: int, seconds: dict[int, float]) -> str:
    return "".join(
        format_line(
            {"epoch": e, "loss": 0.5, "accuracy": 0.9, "lr": 1e-3, "seconds": s}, (0.4, e), epochs
        )
        + "\n"
        for e, s in seconds.items()
    )


@pytest.fixture
def synthetic_tree(tmp_path) -> Path:
    """GunPoint: lstmfcn_c8 done at 0.4 s/epoch; alstmfcn_c8 running at epoch 30 of 100
    (1.1 s/epoch after the first); lstmfcn_c64 running at epoch 50 (0.3 s/epoch);
    alstmfcn_c64 not started. Wafer: nothing started."""
    results = tmp_path / "results"
    done = Run("GunPoint", "lstmfcn", 8, 0)
    _write(done.path("model", results), "not read")
    info = {"epochs_run": 100, "config": {"epochs": 100}, "seconds": 40.0, "train_loss": 0.01}
    _write(done.path("info", results), json.dumps(info))
    _write(done.path("train_log", results), _log_lines(100, {100: 0.4}) + "done: kept ...\n")
    running = Run("GunPoint", "alstmfcn", 8, 0)
    _write(running.path("train_log", results), _log_lines(100, {1: 9.0, 10: 1.0, 20: 1.2, 30: 1.1}))
    _write(
        Run("GunPoint", "lstmfcn", 64, 0).path("train_log", results),
        _log_lines(100, {1: 7.0, 50: 0.3}),
    )
    return results


PLAN = {"datasets": ["GunPoint", "Wafer"], "models": ["lstmfcn", "alstmfcn"], "cells": [8, 64]}
PLAN.update(seeds=[0], epochs=100)


def test_the_eta_adds_measured_dataset_and_scaled_model_speeds(synthetic_tree):
    statuses = survey(synthetic_tree, make_plan(PLAN))
    by_stem = {(s.run.dataset, s.run.stem): s for s in statuses}
    assert [s.state for s in statuses].count("done") == 1
    running = by_stem["GunPoint", "alstmfcn_c8_s0"]
    assert (running.state, running.epoch, running.epochs) == ("running", 30, 100)
    assert running.seconds_per_epoch == pytest.approx(1.1)  # epoch 1 (compiling) left out

    eta = estimate(statuses, model=CostModel(0.1, 0.0, "0.1 s per step"))
    # Measured: 0.4 (done), 1.1 and 0.3 (running). The cost model: 0.1 s x 1 step for GunPoint
    # (50 series), so the ratios are 4, 11 and 3, median 4; Wafer (1000 series, 8 steps) is
    # 0.8 s x 4 = 3.2 s/epoch. GunPoint's unstarted run takes its dataset's mean, 0.6.
    assert eta.left_s[Run("GunPoint", "lstmfcn", 8, 0)] == 0
    assert eta.left_s[running.run] == pytest.approx(70 * 1.1)
    assert eta.left_s[Run("GunPoint", "lstmfcn", 64, 0)] == pytest.approx(50 * 0.3)
    assert eta.left_s[Run("GunPoint", "alstmfcn", 64, 0)] == pytest.approx(100 * 0.6)
    assert eta.left_s[Run("Wafer", "lstmfcn", 8, 0)] == pytest.approx(100 * 3.2)
    assert (eta.jobs, eta.scale, eta.measured) == (2, pytest.approx(4.0), 3)
    # 77 + 15 + 60 + 4 x 320 = 1432 s of runs, 2 at a time.
    assert eta.total_s == pytest.approx(716.0)


def test_with_nothing_measured_the_cost_model_is_the_machine_s_time(tmp_path):
    (tmp_path / "results").mkdir()
    plan = make_plan({**PLAN, "datasets": ["Wafer"]})
    eta = estimate(survey(tmp_path / "results", plan), model=CostModel(0.1, 0.0, "per step"))
    assert eta.scale == 1.0 and eta.total_s == pytest.approx(4 * 100 * 0.8)
    # A run outside the plan (e.g. published already) measures the machine too: Coffee (28
    # series, 1 step) at 0.2 s/epoch is twice the model's 0.1 s.
    other = Run("Coffee", "lstmfcn", 8, 0)
    _write(other.path("model", tmp_path / "results"), "not read")
    info = {"epochs_run": 10, "config": {"epochs": 10}, "seconds": 2.0, "train_loss": 0.1}
    _write(other.path("info", tmp_path / "results"), json.dumps(info))
    eta = estimate(survey(tmp_path / "results", plan), model=CostModel(0.1, 0.0, "per step"))
    assert eta.scale == pytest.approx(2.0) and eta.total_s == pytest.approx(4 * 100 * 1.6)


def test_the_report_fits_100_columns_and_counts_per_dataset(synthetic_tree):
    out = report(synthetic_tree, make_plan(PLAN), "plan: test")
    assert all(len(line) <= WIDTH for line in out), max(out, key=len)
    *runs, gunpoint = [line.split() for line in out if line.startswith("GunPoint ")]
    assert len(runs) == 2  # the running runs, then the dataset's row
    assert gunpoint[:5] == ["GunPoint", "1/4", "2", "0", "0"]
    assert any(line.startswith("1 datasets not begun (4 runs;") for line in out)
    assert "plan: 1 of 8 runs done, 2 running, 0 paused, 0 failed, 5 not started" in out
    rows = [line.split() for line in out if "running" in line.split()]
    assert ["GunPoint", "alstmfcn_c8_s0", "running", "30/100", "0.50000", "1.1", "1m17s"] in rows


def test_without_a_config_the_runs_found_are_the_plan(
    synthetic_tree, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # no config.yaml here
    assert main(["status", str(synthetic_tree)]) == 0
    out = capsys.readouterr().out
    assert "plan: none (no config.yaml here)" in out
    assert "plan: 1 of 3 runs done, 2 running" in out  # Wafer and alstmfcn_c64 are not found


def test_a_missing_results_folder_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["status", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lstmfcn status: error: ")
    assert "nowhere: no such results folder" in err
    assert main(["status", str(tmp_path), "--watch", "0"]) == 2
    assert "--watch must be > 0" in capsys.readouterr().err


def test_watch_redraws_until_sigint_then_exits_0_quietly(synthetic_tree, tmp_path):
    proc = subprocess.Popen(
        [*CLI, "status", str(synthetic_tree), "--watch", "0.05"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    heads = 0
    for n, line in enumerate(proc.stdout):  # two reports: it redraws
        heads += line.startswith((str(synthetic_tree), "…"))  # the title (a deep path shortened)
        if heads == 2 or n > 500:  # never read a report that lost its title forever
            break
    proc.send_signal(signal.SIGINT)
    assert heads == 2
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == ""
    assert "\033[2J" not in rest  # not a terminal: the screen is not cleared


def test_watch_clears_the_screen_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for out, clears in ((Terminal(), 3), (io.StringIO(), 0)):
        watch(_three_reports_then_ctrl_c(), 0.001, out)
        assert out.getvalue().count("\033[H\033[2J") == clears
        assert out.getvalue().count("report ") == 3


def _three_reports_then_ctrl_c():
    calls = []

    def draw():
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt  # Ctrl-C while it reads
        return [f"report {len(calls)}"]

    return draw


# --- a foreground `lstmfcn train` ---------------------------------------------------------------


def _feed(console: EpochConsole, epochs: int = 20) -> None:
    console("resuming x.keras from epoch 1")
    for e in range(1, epochs + 1):
        row = {"epoch": e, "loss": 1 / e, "accuracy": 0.5, "lr": 1e-3, "seconds": 0.1}
        console(format_line(row, (1 / e, e), epochs))
    console.close()


@pytest.mark.parametrize(
    "stdout_tty,stderr_tty,lines,bar",
    [(False, False, True, False), (False, True, True, True), (True, True, False, True)],
)
def test_a_bar_only_on_a_terminal_and_the_plain_lines_in_a_log(
    capsys, stdout_tty, stderr_tty, lines, bar
):
    assert shows_bar(stderr_tty, 10) is bar and not shows_bar(stderr_tty, 0)
    console = EpochConsole(10, stdout_tty=stdout_tty, stderr_tty=stderr_tty)
    assert console.log_every == (1 if bar else 10)  # the bar moves every epoch
    _feed(console)
    out, err = capsys.readouterr()
    assert "resuming x.keras" in out
    epochs = [parse_line(t).epoch for t in out.splitlines() if parse_line(t)]
    assert epochs == ([10, 20] if lines else [])
    assert ("epoch [" in err and "20/20" in err and "ETA 0s" in err) is bar
    assert err == "" or bar


@pytest.mark.slow
def test_train_draws_a_bar_on_a_terminal_and_logs_plain_lines(data_root, tmp_path):
    """stderr a pty, stdout a file: the bar on the terminal, every epoch line in the file."""
    master, slave = pty.openpty()
    cmd, _ = _train(data_root, tmp_path, "GunPoint", "--epochs", "4")
    with open(tmp_path / "out.log", "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=slave)
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        terminal += chunk
    assert proc.wait(timeout=600) == 0
    os.close(master)
    text = terminal.decode(errors="replace")
    assert "\repoch [" in text and "4/4" in text and "ETA" in text
    log = (tmp_path / "out.log").read_text()
    assert [parse_line(t).epoch for t in log.splitlines() if parse_line(t)] == [1, 2, 3, 4]
    assert "\r" not in log and "done: kept epoch" in log


def test_a_resume_state_summary_is_read_without_keras(tmp_path):
    state = {"fingerprint": "f", "next_epoch": 6, "history": [], "seconds": 1.0}
    np.savez(tmp_path / "x.npz", state_json=np.frombuffer(json.dumps(state).encode(), np.uint8))
    assert ResumeState.summary_of(tmp_path / "x.npz")["next_epoch"] == 6
    assert ResumeState.fingerprint_of(tmp_path / "x.npz") == "f"


def test_a_released_plan_counts_evaluations_and_trains_nothing(tmp_path):
    """released: true: a run with metrics and no model is done (evaluated), and the report
    gives no training ETA."""
    repo = Path(__file__).resolve().parents[1]
    plan = make_plan(
        {
            "preset": "ucr85",
            "released": True,
            "records": str(repo / "reproduction"),
            "datasets": ["GunPoint"],
        }
    )
    first = plan.runs[0]
    metrics = first.path("metrics", tmp_path)
    metrics.parent.mkdir(parents=True)
    metrics.write_text("{}")
    assert [s.state for s in survey(tmp_path, plan)] == ["done", "pending"]
    out = report(tmp_path, plan, "plan: released")
    assert out[-1] == f"released models of {plan.released_from}: nothing trains; 1 of 2 evaluated"
    assert not any(line.startswith("ETA") for line in out)


def test_on_a_narrow_terminal_the_bar_shrinks_before_the_count_and_eta_do():
    from lstmfcn_bench.progress import BAR_WIDTH, Progress

    bar = Progress(total=2000, label="epoch", unit="items", enabled=False)
    bar.done, bar.detail = 780, "ETA 3m46s  loss 0.00021"
    assert f"[{'#' * (BAR_WIDTH * 780 // 2000)}" in bar.text()  # full width when room allows
    for columns in (60, 45):
        text = bar.text(columns)
        assert len(text) <= columns and "780/2000  ETA 3m46s" in text, (columns, text)
    assert "780/2000  ETA 3m46s  loss 0.00021" in bar.text(48)


def test_a_binary_log_is_shown_as_harmless_text(tmp_path):
    """A failed run's note is its log's last line, with anything a terminal would act on
    replaced."""
    log = tmp_path / "logs/train/GunPoint/lstmfcn_c8_s0.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"epoch 1/10 started\n\x1b[2J\x07boom\x00\n")
    old = time.time() - 3600
    os.utime(log, (old, old))
    (status,) = survey(tmp_path)
    assert status.state == "failed" and status.note.isprintable() and "boom" in status.note


def test_a_deep_results_folder_is_shortened_from_the_left_to_fit(tmp_path):
    deep = tmp_path.joinpath(*["a_rather_long_folder_name"] * 6, "results")
    deep.mkdir(parents=True)
    title = report(deep, None, now=0.0)[0]
    assert len(title) <= WIDTH and title.startswith("…")
    assert "a_rather_long_folder_name/results at " in title


def test_a_baseline_run_is_one_fit_timed_by_its_job_not_epochs(synthetic_tree):
    """MiniRocket beside the Keras runs: done when its model is kept, one fit of its job's
    wall seconds (Snakemake's benchmark), apart from the Keras speeds; its unstarted runs cost
    the measured fits, never the cost model's epochs."""
    results = synthetic_tree
    done = Run("GunPoint", "minirocket", 0, 0)
    _write(done.path("model", results), "not read")
    _write(done.path("info", results), json.dumps({"config": {"cells": 0}, "seconds": 0.4}))
    _write(done.path("train_benchmark", results), "s\th:m:s\tmax_rss\n2.5\t0:00:02\t300\n")
    running = Run("GunPoint", "minirocket", 0, 1)
    _write(running.path("train_log", results), "training minirocket (seed 1) on GunPoint\n")
    plan = make_plan({**PLAN, "models": ["lstmfcn", "alstmfcn", "minirocket"], "seeds": [0, 1]})
    statuses = {s.run: s for s in survey(results, plan)}
    assert (statuses[done].state, statuses[done].epochs) == ("done", 1)
    assert statuses[done].seconds_per_epoch == 2.5  # the job, not the 0.4 s fit alone
    assert statuses[running].state == "running"
    eta = estimate(list(statuses.values()), model=CostModel(0.1, 0.0, "0.1 s per step"))
    assert eta.scale == pytest.approx(4.0)  # the Keras runs' ratio, as without MiniRocket
    assert eta.left_s[running] == pytest.approx(2.5)
    assert eta.left_s[Run("Wafer", "minirocket", 0, 0)] == pytest.approx(2.5)  # measured fits
    assert eta.left_s[Run("GunPoint", "lstmfcn", 8, 1)] == pytest.approx(100 * 0.6)
    out = report(results, plan, "plan: test")
    row = next(line.split() for line in out if "minirocket_s1" in line)
    assert row[:4] == ["GunPoint", "minirocket_s1", "running", "fit"]
    # the dataset's speed is its Keras runs' s/epoch, never averaged with the fits' seconds
    keras = [
        s.seconds_per_epoch
        for s in statuses.values()
        if s.run.dataset == "GunPoint" and s.run.model != "minirocket" and s.seconds_per_epoch
    ]
    dataset_row = next(r for r in map(str.split, out) if r[:1] == ["GunPoint"] and "/" in r[1])
    assert keras and dataset_row[5] == f"{statistics.fmean(keras):.3g}"
    # a dataset of baselines only, under the mixed plan's s/epoch header, says its speed is per fit
    # (the runs found, no plan: MiniRocket alone on Wafer, beside GunPoint's Keras runs)
    wafer = Run("Wafer", "minirocket", 0, 0)
    _write(wafer.path("model", results), "not read")
    _write(wafer.path("info", results), json.dumps({"config": {"cells": 0}, "seconds": 0.4}))
    rows = [r for r in map(str.split, report(results, None)) if r[:1] == ["Wafer"]]
    assert len(rows) == 1 and rows[0][1] == "1/1" and rows[0][5] == "0.4/fit", rows
    # a fitted baseline is found without a plan too: its model file says it exists
    assert done in {s.run for s in survey(results)}
    alone = results.parent / "alone"  # a plan of baselines only: speeds are per fit
    _write(running.path("train_log", alone), "training minirocket (seed 1) on GunPoint\n")
    only = make_plan({**PLAN, "models": ["minirocket"]})
    assert any(line.split()[-2:] == ["s/fit", "left"] for line in report(alone, only, "x"))
