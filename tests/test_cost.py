"""The cost model (lstmfcn_bench.cost): the protocol's FLOPs and steps, datasets ranked by
estimated hours, the cheapest prefix within a budget, the workflow's `budget_hours`, the
`lstmfcn plan` table and a real (short) calibration."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstmfcn_bench import cost
from lstmfcn_bench.cli import main
from lstmfcn_bench.data import registry
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.workflow_config import checked_config

UCR85_RUNS = 2 * 3 * 1  # models x cells x seeds of the ucr85 preset


def test_flops_and_steps_of_known_sizes():
    assert cost.CONV_MACS_PER_STEP == 263168
    # ItalyPowerDemand: 67 series of 24 values
    assert cost.flops_per_epoch(67, 24) == 6 * 67 * 24 * 263168 == pytest.approx(2.539e9, rel=1e-3)
    # the CPU baseline's n=1000, T=500: 789.5 GFLOP per epoch
    assert cost.flops_per_epoch(1000, 500) == pytest.approx(789.504e9)
    assert [cost.steps_per_epoch(n) for n in (1, 67, 128, 129, 1000, 8926)] == [1, 1, 1, 2, 8, 70]
    assert cost.steps_per_epoch(300, batch=100) == 3 and cost.steps_per_epoch(301, 100) == 4


def test_variable_length_datasets_cost_at_their_longest_series():
    variable = [n for n, i in registry.registry().items() if i.variable_length]
    assert len(variable) == 11 and set(variable) == set(cost.MAX_LENGTH)
    assert cost.size("PLAID") == (537, 1344)
    assert cost.size("Gun_Point") == (50, 150)  # the paper's name works too
    e = cost.estimate("GesturePebbleZ1", epochs=10, runs=1)
    assert e.variable_length and e.length == 455
    assert e.pflop == pytest.approx(cost.flops_per_epoch(132, 455) * 10 / 1e15)


def test_fit_recovers_known_constants_and_keeps_them_non_negative():
    a, b = 0.004, 0.006  # seconds per step, seconds per GFLOP
    points = [
        (n, T, a * cost.steps_per_epoch(n) + b * cost.flops_per_epoch(n, T) / 1e9)
        for n, T in ((67, 24), (1024, 8), (300, 300), (1000, 500))
    ]
    model = cost.fit(points, "synthetic")
    assert model.seconds_per_step == pytest.approx(a, rel=1e-6)
    assert model.seconds_per_gflop == pytest.approx(b, rel=1e-6)
    # times that fall with the steps would need a negative per-step cost: clipped to 0
    clipped = cost.fit([(128, 100, 1.0), (1024, 100, 1.0)], "odd")
    assert clipped.seconds_per_step >= 0 and clipped.seconds_per_gflop >= 0
    with pytest.raises(ValueError, match="> 0"):
        cost.fit([(10, 10, 0.0)], "bad")


def test_default_model_is_the_fit_of_its_measured_points():
    model = cost.fit(cost.DEFAULT_POINTS, "again")
    assert model.seconds_per_step == cost.DEFAULT.seconds_per_step > 0
    assert model.seconds_per_gflop == cost.DEFAULT.seconds_per_gflop > 0
    assert "2-core AMD EPYC" in cost.DEFAULT.source
    # ItalyPowerDemand's measured 2000-epoch run (70 s at two jobs at once): within 20 %
    assert cost.DEFAULT.hours("ItalyPowerDemand", 2000, runs=2) * 3600 == pytest.approx(70, rel=0.2)


def test_datasets_are_ordered_by_estimated_cost_not_by_one_size():
    names = ["HandOutlines", "ElectricDevices", "ItalyPowerDemand", "GunPoint"]
    ranked = cost.ordered(names, epochs=2000, runs=6)
    hours = [e.hours for e in ranked]
    assert hours == sorted(hours)
    assert [e.name for e in ranked][:2] == ["ItalyPowerDemand", "GunPoint"]
    for e in ranked:
        assert e.hours == pytest.approx(cost.DEFAULT.hours(e.name, 2000, 6))
    # a machine where only steps cost: ElectricDevices' 70 steps are dearer than HandOutlines' 8;
    # where only FLOPs cost, HandOutlines' 1000 x 2709 values are dearer than 8926 x 96
    per_step = cost.ordered(names, model=cost.CostModel(1.0, 0.0, "steps"))
    per_flop = cost.ordered(names, model=cost.CostModel(0.0, 1.0, "flops"))
    assert per_step[-1].name == "ElectricDevices" and per_flop[-1].name == "HandOutlines"
    # per-dataset settings (the plan's overrides) count
    longer = cost.ordered(
        ["ItalyPowerDemand", "GunPoint"], epochs={"ItalyPowerDemand": 20000, "GunPoint": 2000}
    )
    assert [e.name for e in longer] == ["GunPoint", "ItalyPowerDemand"]


def _cumulative_ucr85():
    ranked = cost.ordered(registry.preset("ucr85"), epochs=2000, runs=UCR85_RUNS)
    return ranked, list(itertools.accumulate(e.hours for e in ranked))


def test_a_budget_keeps_exactly_the_cheapest_that_fit():
    ranked, cum = _cumulative_ucr85()
    k = 12
    budget = (cum[k - 1] + cum[k]) / 2  # between the 12th and the 13th dataset's total
    kept = cost.within_budget(registry.preset("ucr85"), budget, epochs=2000, runs=UCR85_RUNS)
    assert [e.name for e in kept] == [e.name for e in ranked[:k]]
    assert sum(e.hours for e in kept) <= budget < sum(e.hours for e in ranked[: k + 1])
    everything = cost.within_budget(registry.preset("ucr85"), cum[-1] * 1.01, runs=UCR85_RUNS)
    assert len(everything) == 85
    with pytest.raises(ConfigError, match="budget_hours 0.001 fits no dataset: the cheapest, "):
        cost.within_budget(registry.preset("ucr85"), 0.001, runs=UCR85_RUNS)


def test_the_workflow_plan_under_a_budget():
    ranked, cum = _cumulative_ucr85()
    k = 20
    budget = (cum[k - 1] + cum[k]) / 2
    plan = make_plan({"preset": "ucr85", "budget_hours": budget})
    assert plan.datasets == [e.name for e in ranked[:k]]  # and in cost order
    assert len(plan.runs) == k * UCR85_RUNS and set(plan.train) == set(plan.datasets)
    assert {r.dataset for r in plan.runs} == set(plan.datasets)
    # `--config budget_hours=...` hands a string over; no budget: the whole preset, its order
    assert make_plan({"preset": "ucr85", "budget_hours": f"{budget}"}).datasets == plan.datasets
    assert checked_config({"budget_hours": "2"})["budget_hours"] == 2.0
    assert make_plan({"preset": "ucr85"}).datasets == registry.preset("ucr85")
    # a listed set of datasets, with a per-dataset override that makes the cheapest dear
    listed = make_plan(
        {
            "datasets": ["GunPoint", "ItalyPowerDemand", "ArrowHead"],
            "budget_hours": 0.2,
            "epochs": 2000,
            "cells": [8],
            "overrides": {"ItalyPowerDemand": {"epochs": 100000}},
        }
    )
    assert listed.datasets == ["GunPoint", "ArrowHead"]
    with pytest.raises(ConfigError, match="budget_hours 0.01 fits no dataset"):
        make_plan({"preset": "ucr85", "budget_hours": 0.01})
    for bad in (0, -1, "many"):
        with pytest.raises(ConfigError, match="config key 'budget_hours'"):
            make_plan({"preset": "ucr85", "budget_hours": bad})
    with pytest.raises(ConfigError, match="budget_hours must be > 0, got nan"):
        make_plan({"preset": "ucr85", "budget_hours": float("nan")})


def test_jobs_start_cheapest_dataset_first_and_the_first_listed_seed_first():
    """The rules' priority: every job of a cheaper dataset outranks every job of a dearer one,
    whatever order the config lists them in; within a dataset the seeds in the config's order."""
    plan = make_plan(
        {"datasets": ["ArrowHead", "GunPoint", "ItalyPowerDemand"], "seeds": [2, 0, 1]}
    )
    assert plan.datasets == ["ArrowHead", "GunPoint", "ItalyPowerDemand"]  # as listed
    by_cost = [e.name for e in cost.ordered(plan.datasets, epochs=1000, runs=6)]
    assert by_cost == ["ItalyPowerDemand", "GunPoint", "ArrowHead"]
    levels = [[plan.priority(d, None)] + [plan.priority(d, s) for s in plan.seeds] for d in by_cost]
    for dearer, cheaper in zip(levels[1:], levels[:-1], strict=True):
        assert max(dearer) < min(cheaper)
    for d in by_cost:  # the config's seed order, ranked: seed 2 first, then 0, then 1
        assert plan.priority(d, 2) > plan.priority(d, 0) > plan.priority(d, 1)
        assert plan.priority(d, 1) == plan.priority(d, None)
    # an override that makes the cheapest dataset dear moves it last
    dear = make_plan(
        {
            "datasets": ["ItalyPowerDemand", "GunPoint"],
            "overrides": {"ItalyPowerDemand": {"epochs": 10**5}},
        }
    )
    assert dear.priority("GunPoint") > dear.priority("ItalyPowerDemand")
    # a file named on the command line, outside the config, still gets a priority: the lowest
    assert plan.priority("Coffee", 7) == plan.priority("Coffee") == 0
    assert plan.priority("ArrowHead", 7) == plan.priority("ArrowHead") == 1  # a seed not listed


def _rows(out: str) -> dict[str, str]:
    """Dataset name -> its line in the plan table."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(\S+)\s+\d+", line)
        if m:
            rows[m.group(2)] = line
    return rows


def test_plan_command_lists_the_demo_cheapest_first(capsys):
    assert main(["plan", "--preset", "demo"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert list(rows) == ["ItalyPowerDemand", "GunPoint", "ArrowHead"]
    ranks = [int(line.split()[0]) for line in rows.values()]
    assert ranks == [1, 2, 3]
    ipd = rows["ItalyPowerDemand"].split()
    # rank, name, n_train, T, steps, PFLOP, hours, cumulative: demo = 2 models x 1 x 1000 epochs
    assert ipd[2:5] == ["67", "24", "1"]
    assert float(ipd[5]) == pytest.approx(cost.flops_per_epoch(67, 24) * 1000 * 2 / 1e15, abs=1e-3)
    hours = [float(line.split()[6]) for line in rows.values()]
    cum = [float(line.split()[7]) for line in rows.values()]
    assert cum == pytest.approx(list(itertools.accumulate(hours)), abs=2e-3)
    assert "total: 3 datasets, 6 runs" in out
    assert "cost model: " in out and "2-core AMD EPYC" in out


def test_plan_command_marks_what_a_local_folder_lacks(tmp_path, capsys):
    for name, splits in (("GunPoint", ("TRAIN", "TEST")), ("ArrowHead", ("TRAIN",))):
        (tmp_path / name).mkdir()
        for split in splits:
            (tmp_path / name / f"{name}_{split}.tsv").write_text("1\t0.5\t0.25\n")
    code = main(["plan", "--preset", "demo", "--source", str(tmp_path), "--budget-hours", "100"])
    assert code == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["GunPoint"].endswith("fits")
    assert rows["ItalyPowerDemand"].endswith("not available")
    assert rows["ArrowHead"].endswith("not available")  # a TRAIN split without its TEST
    gunpoint_hours = float(rows["GunPoint"].split()[6])
    assert float(rows["GunPoint"].split()[7]) == pytest.approx(gunpoint_hours)  # alone counts
    assert "left to plan: 1 of 3 datasets (2 not available)" in out
    assert "budget 100 h: the 1 cheapest datasets left fit" in out
    assert cost.available(["GunPoint", "Gun_Point", "ArrowHead"], tmp_path) == {
        "GunPoint": True,
        "Gun_Point": True,
        "ArrowHead": False,
    }


def _publish_records(root: Path, runs, epochs: int = 1000) -> None:
    """Records where `lstmfcn publish` puts them, with the training settings the plan compares
    (the demo preset's: 1000 epochs, batches of 128, patience 100, the dimension shuffle)."""
    config = {"epochs": epochs, "batch_size": 128, "plateau_patience": 100, "shuffle": True}
    for run in runs:
        path = run.path("record", root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"train_config": {**config, "seed": run.seed}}))


def test_a_budget_skips_the_datasets_already_published(tmp_path, capsys):
    """The reproduction's contributors: `skip_published: reproduction` leaves out a dataset
    whose every planned run has a record trained with the planned settings, before the budget
    is spent, so the budget goes to what the table lacks; a dataset with only some of its runs
    recorded, or recorded with other settings, is planned whole."""
    config = {"preset": "demo", "seeds": [0, 1]}
    hours = {e.name: e.hours for e in cost.ordered(make_plan(config).datasets, epochs=1000, runs=4)}
    config["budget_hours"] = hours["GunPoint"] + hours["ArrowHead"]  # two fit, never all three
    whole = make_plan(config)
    assert whole.datasets == ["ItalyPowerDemand", "GunPoint"]  # the cheapest two
    (tmp_path / "runs").mkdir()
    _publish_records(tmp_path, [r for r in whole.runs if r.dataset == "ItalyPowerDemand"])
    _publish_records(tmp_path, [r for r in whole.runs if r.dataset == "GunPoint"][:-1])
    skipping = make_plan({**config, "skip_published": str(tmp_path)})
    assert skipping.datasets == ["GunPoint", "ArrowHead"]  # the budget went one further
    assert {r.dataset for r in skipping.runs} == {"GunPoint", "ArrowHead"}
    assert set(skipping.train) == {"GunPoint", "ArrowHead"}
    # one more seed than the records have: nothing is complete, nothing is left out
    assert (
        make_plan({**config, "seeds": [0, 1, 2], "skip_published": str(tmp_path)}).datasets[0]
        == "ItalyPowerDemand"
    )
    # other settings than the records' (a patience that costs the same): they do not count
    assert make_plan({**config, "skip_published": str(tmp_path), "patience": 50}).datasets == [
        "ItalyPowerDemand",
        "GunPoint",
    ]
    # the plan table marks them and keeps them out of the budget
    budget = f"{config['budget_hours']}"
    args = ["plan", "--preset", "demo", "--seeds", "2", "--budget-hours", budget]
    assert main(args) == 0
    assert _rows(capsys.readouterr().out)["ArrowHead"].endswith("over budget")
    assert main([*args, "--skip-published", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["ItalyPowerDemand"].endswith("published")
    assert rows["GunPoint"].endswith("fits") and rows["ArrowHead"].endswith("fits")
    assert float(rows["GunPoint"].split()[7]) == pytest.approx(float(rows["GunPoint"].split()[6]))
    assert "left to plan: 2 of 3 datasets (1 published)" in out
    # every run recorded: one clear line instead of an empty workflow
    _publish_records(tmp_path, whole.runs + make_plan({**config, "datasets": ["ArrowHead"]}).runs)
    with pytest.raises(ConfigError, match="already holds every planned run: nothing left"):
        make_plan({**config, "skip_published": str(tmp_path)})
    for bad in (tmp_path / "nowhere", tmp_path / "runs"):
        with pytest.raises(ConfigError, match="'skip_published': .* not a reproduction folder"):
            make_plan({**config, "skip_published": str(bad)})
        assert main([*args, "--skip-published", str(bad)]) == 2
        assert "not a reproduction folder" in capsys.readouterr().err


@pytest.mark.parametrize("preset", ["ucr128", "demo"])
def test_a_closed_pipe_ends_the_plan_quietly(preset):
    """`lstmfcn plan | head`: the reader stops early; no traceback, the status a shell tool
    stopped by its pipe gives, for a table larger than stdout's buffer (ucr128's 11 kB) and a
    small one (demo's)."""
    plan = subprocess.Popen(
        [sys.executable, "-m", "lstmfcn_bench.cli", "plan", "--preset", preset],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    plan.stdout.close()  # before it writes: whatever it writes meets a closed pipe
    assert plan.wait(timeout=120) == 141
    assert plan.stderr.read() == b""


def test_the_workflow_budget_with_a_local_folder_spends_it_on_what_the_folder_holds(tmp_path):
    """ItalyPowerDemand is the cheaper demo dataset; a folder without it plans GunPoint."""
    name = "GunPoint"
    (tmp_path / name).mkdir()
    for split in ("TRAIN", "TEST"):
        (tmp_path / name / f"{name}_{split}.tsv").write_text("1\t0.5\t0.25\n")
    config = {"preset": "demo", "budget_hours": 100}
    assert make_plan(config).datasets[0] == "ItalyPowerDemand"
    assert make_plan({**config, "source": str(tmp_path)}).datasets == ["GunPoint"]
    spaced = tmp_path / "a folder%20with spaces"
    spaced.mkdir()
    (tmp_path / name).rename(spaced / name)
    assert make_plan({**config, "source": spaced.as_uri()}).datasets == ["GunPoint"]  # file://
    (spaced / name).rename(tmp_path / name)
    with pytest.raises(ConfigError, match="config key 'source': cannot use .* only local file"):
        make_plan({**config, "source": "file://elsewhere/ucr"})
    # what the campaign prints: the Keras runs' hours; a plan of baselines only costs none
    keras = make_plan(config).estimates()
    assert keras[0].runs == 2 and keras[0].hours > 0  # the demo's 2 models x cells [8]
    fits = make_plan({**config, "models": ["minirocket"], "source": str(tmp_path)}).estimates()
    assert [(e.name, e.hours) for e in fits] == [("GunPoint", 0.0)]
    # a list given by name is planned whole, budget or not: the missing one's fetch says why
    named = {**config, "datasets": ["ItalyPowerDemand", "GunPoint"], "source": str(tmp_path)}
    assert make_plan(named).datasets == ["ItalyPowerDemand", "GunPoint"]


def test_plan_command_with_a_budget_and_bad_options(tmp_path, capsys):
    assert main(["plan", "--preset", "demo", "--epochs", "2000", "--budget-hours", "0.0001"]) == 0
    out = capsys.readouterr().out
    assert "fits no dataset" in out and "fits\n" not in out
    assert all(line.endswith("over budget") for line in _rows(out).values())
    assert main(["plan", "--preset", "demo", "--budget-hours", "0"]) == 2
    assert "--budget-hours must be > 0" in capsys.readouterr().err
    assert main(["plan", "--source", str(tmp_path / "nowhere")]) == 2
    assert "not a local folder" in capsys.readouterr().err
    assert main(["plan", "--preset", "demo", "--source", tmp_path.as_uri()]) == 0  # file:// too
    assert "not available" in capsys.readouterr().out
    assert main(["plan", "--seeds", "0"]) == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err
    assert main(["plan", "--preset", "demo", "--seeds", "3", "--datasets", "Coffee"]) == 0
    out = capsys.readouterr().out
    assert list(_rows(out)) == ["Coffee"] and "total: 1 datasets, 6 runs" in out


def test_calibrate_measures_real_training_quickly():
    # one step of little arithmetic, eight steps of the same, one step of much more
    model = cost.calibrate(sizes=((128, 8), (1024, 8), (128, 256)), epochs=3)
    assert model.seconds_per_step > 0 and model.seconds_per_gflop > 0
    assert math.isfinite(model.seconds_per_step) and math.isfinite(model.seconds_per_gflop)
    assert model.source.startswith("calibrated now on ")
    assert model.seconds_per_step < 1 and 1 / model.seconds_per_gflop < 1e5  # sane: < 100 TFLOP/s
