"""The workflow on a real (single-node) SLURM cluster through Snakemake's SLURM executor plugin.

tests/slurm_cluster.sh installs SLURM from the Debian packages and starts munged, slurmctld and
slurmd with one node (this machine's CPUs and memory) carrying one placeholder GPU. The tiny
config (2 datasets x 2 models, `gpu: true`) then runs with `--workflow-profile
workflow/profiles/slurm`, while the same config runs locally (`--cores 2`) in another copy.
Midway, one training job is cancelled with `scancel`; the rule's retries resubmit it and it
resumes from its resume state.

Needs root and apt (or SLURM already installed by that script). Elsewhere it is skipped with the
reason, except under CI=true, where it fails instead: CI must really run it.
Run alone (as root):  pytest -m slurm -rs -s tests/test_slurm.py   (-s shows the SLURM job table)
SLURM_TEST_KEEP_CLUSTER=1 leaves the cluster running afterwards (tests/slurm_cluster.sh stop).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

# slow: minutes of real training; slurm: needs root and apt (tests/slurm_cluster.sh)
pytestmark = [pytest.mark.slurm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "slurm_cluster.sh"
PROFILE = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")

# The job that is cancelled mid-training: long enough to be caught between resume states.
KILLED = ("ItalyPowerDemand", "lstmfcn")
KILLED_RUN = "ItalyPowerDemand/lstmfcn_c8_s0"
KILL_AFTER_EPOCH = 20
TINY = {
    "datasets": ["ItalyPowerDemand", "GunPoint"],
    "models": ["lstmfcn", "alstmfcn"],
    "epochs": 3,
    "threads": 1,
    "gpu": True,
    "mem_mb": 1500,
    "runtime_min": 20,
    "cache": "results/cache",
    "overrides": {"ItalyPowerDemand": {"epochs": 100, "checkpoint_every": 5}},
}
# Test-cluster-only options (the profile is for real clusters): no accounting database, so the
# executor polls squeue (finished jobs stay visible for MinJobAge=600 s); poll every few seconds.
SLURM_TEST_ARGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-keep-successful-logs",
]
# No partition given: the executor submits to the cluster's default one (`debug` here).
RUN_TIMEOUT = 900  # the SLURM and local runs together; ~400 s in CI beside another test worker


def unavailable(reason: str):
    """Skip locally, fail under CI (where the test must really run)."""
    if IN_CI:
        pytest.fail(f"CI=true, but the SLURM test cannot run: {reason}")
    pytest.skip(reason)


def sh(*cmd: str, check: bool = True, timeout: float = 60) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


# --- the cluster ---------------------------------------------------------------------------


def root_command() -> list[str]:
    """How to run tests/slurm_cluster.sh as root: directly, or under CI through `sudo -n`."""
    if os.name == "posix" and os.geteuid() == 0:
        return []
    if IN_CI and shutil.which("sudo"):
        ok = subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
        if ok:
            return ["sudo", "-n"]
    unavailable(
        "needs root (under CI: root or passwordless sudo): it installs and starts a "
        "SLURM cluster with tests/slurm_cluster.sh"
    )
    return []


@pytest.fixture(scope="module")
def cluster():
    as_root = root_command()
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        unavailable(
            "snakemake-executor-plugin-slurm is not installed "
            "(pip install snakemake-executor-plugin-slurm)"
        )
    if not shutil.which(
        "slurmctld", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    ) and not shutil.which("apt-get"):
        unavailable("SLURM is not installed and there is no apt-get to install it")
    script = [*as_root, "bash", str(CLUSTER)]
    started = subprocess.run([*script, "start"], capture_output=True, text=True, timeout=1200)
    if started.returncode == 3:  # cannot be set up here: not root, no apt, no mirror, ...
        unavailable(started.stderr.strip().splitlines()[-1])
    if started.returncode != 0:
        subprocess.run([*script, "stop"], capture_output=True, timeout=120)
        pytest.fail(f"the SLURM cluster did not come up:\n{started.stdout}\n{started.stderr}")
    yield
    if os.environ.get("SLURM_TEST_KEEP_CLUSTER") != "1":
        subprocess.run([*script, "stop"], capture_output=True, timeout=120)


def scontrol_job(jobid: str) -> dict[str, str]:
    """`scontrol show job` as a dict (works for MinJobAge seconds after the job ended)."""
    out = sh("scontrol", "show", "job", "--oneliner", jobid)
    # values may contain spaces only in fields we do not read; split on ' Key=' boundaries
    return dict(m.groups() for m in re.finditer(r"(\w[\w/:]*)=(\S*)", out))


# --- the runs --------------------------------------------------------------------------------


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / item, dest / item)
    for item in ("workflow", "envs"):
        shutil.copytree(ROOT / item, dest / item)
    (dest / "reports").mkdir()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(TINY)
    (dest / "tiny.yaml").write_text(yaml.safe_dump(config))
    return dest


def start_snakemake(workdir: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    # The rules (and the jobs SLURM runs, which inherit this environment) call this
    # environment's `lstmfcn` and `python -m snakemake`.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log = workdir / "snakemake.out"
    proc = subprocess.Popen(
        [*SNAKEMAKE, "--configfile", "tiny.yaml", *args],
        cwd=workdir,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, log


def wait(proc: subprocess.Popen, log: Path, what: str, deadline: float) -> str:
    try:
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=60)
        raise AssertionError(f"{what} did not finish in time:\n{log.read_text()[-6000:]}") from None
    out = log.read_text()
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{out[-8000:]}"
    return out


def running_job(comment: str, workdir: Path) -> str | None:
    """The running SLURM job of this run (its working directory) with this comment."""
    for line in sh("squeue", "-h", "-t", "RUNNING", "-o", "%i|%k|%Z").splitlines():
        jobid, job_comment, job_dir = (x.strip() for x in line.split("|", 2))
        if job_comment == comment and Path(job_dir).resolve() == workdir.resolve():
            return jobid
    return None


def cancel_mid_training(workdir: Path, proc: subprocess.Popen, deadline: float) -> dict:
    """Wait until the KILLED run has logged some epochs and saved a resume state, then scancel
    its SLURM job. Returns what was seen at that moment."""
    log = workdir / f"results/logs/train/{KILLED_RUN}.log"
    resume = workdir / f"results/models/{KILLED_RUN}.resume.npz"
    comment = f"rule_train_wildcards_{KILLED[0]}_{KILLED[1]}_8_0"
    jobid = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the SLURM run ended before the job could be cancelled"
        if jobid is None:  # find the SLURM job first, so the cancel below is quick
            jobid = running_job(comment, workdir)
            time.sleep(0.2)
            continue
        text = log.read_text() if log.exists() else ""
        epochs = [int(e) for e in re.findall(r"^epoch (\d+)/", text, re.M)]
        if epochs and max(epochs) >= KILL_AFTER_EPOCH and resume.exists():
            assert f"epoch {TINY['overrides'][KILLED[0]]['epochs']}/" not in text, (
                "the job finished before it could be cancelled: raise its epochs"
            )
            sh("scancel", jobid)
            return {"jobid": jobid, "epoch_logged": max(epochs), "log_before": text}
        time.sleep(0.1)
    raise AssertionError(
        f"{KILLED_RUN} never reached epoch {KILL_AFTER_EPOCH} with a resume "
        f"state; its log:\n{log.read_text() if log.exists() else '(none)'}"
    )


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The SLURM run (with one job cancelled midway) and, at the same time, a local run of the
    same config to compare with."""
    base = tmp_path_factory.mktemp("slurm")
    slurm_wd, local_wd = copy_workflow(base / "slurm"), copy_workflow(base / "local")
    t0 = time.monotonic()
    deadline = t0 + RUN_TIMEOUT
    # the local run makes only the results table (and the training histories) compared below
    local, local_log = start_snakemake(local_wd, "--cores", "2", "results/tables/accuracy.csv")
    slurm, slurm_log = start_snakemake(
        slurm_wd, "--workflow-profile", "workflow/profiles/slurm", *SLURM_TEST_ARGS
    )
    try:
        cancelled = cancel_mid_training(slurm_wd, slurm, deadline)
        slurm_out = wait(slurm, slurm_log, "the SLURM run", deadline)
        wait(local, local_log, "the local run", deadline)
    finally:
        for p in (slurm, local):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=60)
    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", slurm_out)
    jobs = {slurm_id: scontrol_job(slurm_id) for _, slurm_id in submitted}
    threads = rule_threads()
    for info in jobs.values():
        info["snakemake_threads"] = threads[rule_of(info)]
    print(
        f"\nSLURM run + local run: {time.monotonic() - t0:.0f}s; cancelled SLURM job "
        f"{cancelled['jobid']} after epoch {cancelled['epoch_logged']}"
    )
    for slurm_id, info in jobs.items():
        print(
            f"SLURM job {slurm_id}: {info.get('Comment')} {info.get('JobState')} "
            f"cpus={info.get('NumCPUs')} mem={info.get('MinMemoryNode')} "
            f"time={info.get('TimeLimit')} gres={info.get('TresPerJob', '-')}"
        )
    return {
        "slurm": slurm_wd,
        "local": local_wd,
        "out": slurm_out,
        "jobs": jobs,
        "cancelled": cancelled,
    }


def job_stats(out: str) -> dict[str, int]:
    """The 'Job stats' table Snakemake prints before running: rule -> number of jobs."""
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


def rule_threads() -> dict[str, int]:
    """Each rule's threads as its rule file declares them for the tiny config: the config's
    `threads` for the training rules, a number as written, else Snakemake's default of 1. (Read
    from the rules, not from Snakemake's log: the SLURM plugin prints job blocks only in some
    versions.)"""
    threads, rule = {}, None
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for line in smk.read_text().splitlines():
            if m := re.match(r"\s*rule (\w+):", line):
                rule = m[1]
                threads[rule] = 1  # until its threads: line, if any
            elif rule and (m := re.match(r"\s+threads: (.+)$", line)):
                value = m[1].strip()
                threads[rule] = TINY["threads"] if value == 'PLAN.config["threads"]' else int(value)
    return threads


def rule_of(info: dict) -> str:
    """The rule of a SLURM job, from the comment the executor gives it."""
    return re.match(r"rule_(\w+?)(?:_wildcards_|$)", info["Comment"])[1]


def jobs_of(runs, comment_prefix: str) -> dict[str, dict]:
    return {
        i: j for i, j in runs["jobs"].items() if j.get("Comment", "").startswith(comment_prefix)
    }


def minutes(limit: str) -> int:
    """SLURM's TimeLimit ([D-]HH:MM:SS) in minutes."""
    days, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return (int(days or 0) * 24 + h) * 60 + m + (s > 0)


# --- the assertions --------------------------------------------------------------------------


def test_every_job_went_through_sbatch(runs):
    out, jobs = runs["out"], runs["jobs"]
    assert jobs, "no 'submitted with SLURM jobid' line in the output:\n" + out[-4000:]
    planned = job_stats(out)
    assert planned.get("train") == 4 and planned.get("evaluate") == 4, planned
    # nothing ran outside SLURM but the target rule `all` (which runs nothing)
    local = set(re.findall(r"^localrule (\w+):", out, re.M))
    assert local <= {"all"}, local
    by_rule: dict[str, int] = {}
    for info in jobs.values():
        by_rule[rule_of(info)] = by_rule.get(rule_of(info), 0) + 1
    # each planned job once, plus the resubmission of the cancelled training job
    expected = {rule: n for rule, n in planned.items() if rule not in local}
    assert by_rule == {**expected, "train": expected["train"] + 1}, by_rule
    states = sorted(j["JobState"] for j in jobs.values())
    assert states.count("CANCELLED") == 1 and states.count("COMPLETED") == len(jobs) - 1, states
    for info in jobs.values():
        assert info["Partition"] == "debug"  # the cluster's default partition
    # and SLURM wrote each job's output (kept by --slurm-keep-successful-logs)
    logs = {p.stem for p in (runs["slurm"] / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(jobs) <= logs, set(jobs) - logs


def test_training_jobs_request_the_gpu(runs):
    train = {i: j for i, j in runs["jobs"].items() if rule_of(j) == "train"}
    assert len(train) == 5
    for info in train.values():
        assert re.search(r"gres[:/]gpu[:=]1\b", info.get("TresPerJob", "")), info
    for jobid, info in runs["jobs"].items():
        if jobid not in train:
            assert "gpu" not in info.get("TresPerJob", "") + info.get("TresPerNode", ""), info


def test_resources_arrive_as_configured(runs):
    """mem_mb -> --mem, runtime -> -t, threads -> --cpus-per-task, as SLURM recorded them: the
    training jobs' from the config, the others' from the profile's set-/default-resources."""
    profile = yaml.safe_load(PROFILE.read_text())
    for jobid, info in runs["jobs"].items():
        rule = rule_of(info)
        if rule == "train":
            want = {"mem_mb": TINY["mem_mb"], "runtime": TINY["runtime_min"]}
            cpus = TINY["threads"]
        else:
            want = {**profile["default-resources"], **profile["set-resources"].get(rule, {})}
            cpus = info["snakemake_threads"]
        where = (jobid, rule, want, info)
        assert info["MinMemoryNode"] == f"{want['mem_mb']}M", where
        assert minutes(info["TimeLimit"]) == want["runtime"], where
        assert int(info["NumCPUs"]) == cpus, where


def test_results_match_a_local_run(runs):
    cols = ["dataset", "model", "cells", "seed"]
    slurm = pd.read_csv(runs["slurm"] / "results/tables/accuracy.csv").sort_values(cols)
    local = pd.read_csv(runs["local"] / "results/tables/accuracy.csv").sort_values(cols)
    assert len(slurm) == len(local) == 4
    assert slurm[cols].values.tolist() == local[cols].values.tolist()
    # Same data, seed, threads and batches (a resumed run replays the same batches): the same
    # test accuracies and kept epochs, the cancelled-and-resumed run included.
    assert slurm["accuracy"].tolist() == local["accuracy"].tolist()
    assert slurm["best_epoch"].tolist() == local["best_epoch"].tolist()
    assert slurm["epochs_run"].tolist() == local["epochs_run"].tolist()
    assert slurm["train_loss"].tolist() == local["train_loss"].tolist()
    # epoch by epoch, the resumed run's history is the uninterrupted one's
    history = f"results/models/{KILLED_RUN}_history.csv"
    steps = ["epoch", "loss", "accuracy", "lr"]
    resumed = pd.read_csv(runs["slurm"] / history)[steps]
    pd.testing.assert_frame_equal(resumed, pd.read_csv(runs["local"] / history)[steps])


def test_cancelled_job_is_retried_and_resumes(runs):
    wd, cancelled = runs["slurm"], runs["cancelled"]
    info = json.loads((wd / f"results/models/{KILLED_RUN}_train.json").read_text())
    resumed = info["resumed_from_epoch"]
    epochs = TINY["overrides"]["ItalyPowerDemand"]["epochs"]
    # cancelled once it had run KILL_AFTER_EPOCH epochs with a resume state on disk: it resumed
    # from that periodic state or a later one (the one it saves on SIGTERM)
    assert resumed and KILL_AFTER_EPOCH <= resumed < epochs, resumed
    print(
        f"\nSLURM job {cancelled['jobid']} cancelled (log at epoch "
        f"{cancelled['epoch_logged']}); the retry resumed from epoch {resumed}"
    )
    assert info["epochs_run"] == epochs
    assert "resuming" not in cancelled["log_before"]  # the first attempt started afresh
    # the retry's log (the shell's `> {log}` replaced the first attempt's)
    log = (wd / f"results/logs/train/{KILLED_RUN}.log").read_text()
    assert f"resuming lstmfcn_c8_s0.keras from epoch {resumed + 1}" in log
    assert f"epoch {epochs}/{epochs}" in log
    assert not (wd / f"results/models/{KILLED_RUN}.resume.npz").exists()
    # SLURM saw the first attempt cancelled and the resubmission complete
    attempts = jobs_of(runs, f"rule_train_wildcards_{KILLED[0]}_{KILLED[1]}_")
    assert sorted(j["JobState"] for j in attempts.values()) == ["CANCELLED", "COMPLETED"]
    assert attempts[cancelled["jobid"]]["JobState"] == "CANCELLED"
    # the other runs were not resumed
    for ds, model in (("GunPoint", "lstmfcn"), ("ItalyPowerDemand", "alstmfcn")):
        other = json.loads((wd / f"results/models/{ds}/{model}_c8_s0_train.json").read_text())
        assert other["resumed_from_epoch"] is None
