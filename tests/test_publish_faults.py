"""What a hostile pass found in `lstmfcn publish` and `lstmfcn aggregate --readme`: each fault
ends in one line on stderr and exit status 2, with the target folder (and the README) as it
was, byte for byte; or, for a stray file, one warning line and the rest published."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_reproduction import README, grid

from lstmfcn_bench import aggregate
from lstmfcn_bench.cli import main
from lstmfcn_bench.errors import LstmfcnError
from lstmfcn_bench.results import publish, readme_block, records, staging
from lstmfcn_bench.results.weights import weights_digest
from lstmfcn_bench.runs import Run, run_of


def snapshot(folder: Path) -> dict[str, str | None] | None:
    """Every file (its sha256) and folder (None) under ``folder``; None if there is none."""
    if not folder.exists():
        return None
    return {
        p.relative_to(folder).as_posix(): (
            None if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        )
        for p in sorted(folder.rglob("*"))
    }


def contents(folder: Path) -> dict[str, object]:
    """What ``folder`` holds, as a reader compares it: records without their ``released``
    block and released models by their weights (a model saved again holds another date)."""

    def content(p: Path) -> object:
        if p.suffix == ".keras":
            return weights_digest(p)
        if p.suffix == ".json":
            return {k: v for k, v in json.loads(p.read_text()).items() if k != "released"}
        return p.read_text()

    return {p.relative_to(folder).as_posix(): content(p) for p in sorted(folder.rglob("*.*"))}


def fails(capsys, *args) -> str:
    """Run the CLI, which must refuse with exit status 2 and one line on stderr; that line."""
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err


#: Metrics that evaluation copies from the run's _train.json (metrics key: its key there).
FROM_TRAINING = {"train_loss": "train_loss", "best_epoch": "best_epoch", "train_seconds": "seconds"}


def set_metric(results: Path, dataset: str, key: str, value, stem: str = "*") -> None:
    """Change (or, for ``...``, remove) ``key`` in the metrics files of ``dataset`` (those of
    runs ``stem``, a glob pattern); a value that training gives is changed in the _train.json
    too, as a retraining and its evaluation would."""
    for path in (results / "metrics" / dataset).glob(f"{stem}.json"):
        metrics = json.loads(path.read_text())
        if value is ...:
            del metrics[key]
        else:
            metrics[key] = value
        path.write_text(json.dumps(metrics))
        info = run_of(path).path("info", results)
        if key in FROM_TRAINING and value is not ... and info.is_file():
            train = json.loads(info.read_text())
            train[FROM_TRAINING[key]] = value
            info.write_text(json.dumps(train))


@pytest.fixture
def repro(tmp_path) -> Path:
    """A reproduction folder holding GunPoint seed 0's six records (from tmp_path/a)."""
    grid(tmp_path / "a", datasets=("GunPoint",), seeds=(0,))
    publish.publish(tmp_path / "a", tmp_path / "repro")
    return tmp_path / "repro"


# ------------------------------------------------------------------ 1. a write failing half-way


@pytest.mark.parametrize("failing", [1, 3, 14])
def test_a_move_failing_half_way_puts_every_file_back(
    tmp_path, repro, capsys, monkeypatch, failing
):
    """GunPoint's 12 files replaced, then ItalyPowerDemand's 12 added in a new folder: the
    failing-th move fails (the 14th: one of ItalyPowerDemand's already in place)."""
    grid(tmp_path / "b", datasets=("GunPoint", "ItalyPowerDemand"), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.5)
    before = snapshot(repro)
    calls = []

    def place(staged, dest):
        calls.append(dest)
        if len(calls) == failing:
            raise OSError(errno.EIO, "Input/output error (simulated)")
        os.replace(staged, dest)

    monkeypatch.setattr(staging, "place", place)
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro, "--replace")
    assert f"nothing written to {repro}: cannot write {calls[-1]} (Input/output error" in err
    assert "every file there is as it was" in err
    assert snapshot(repro) == before
    monkeypatch.undo()  # the disk mended: the same call publishes all 24 files
    assert main(["publish", str(tmp_path / "b"), "--to", str(repro), "--replace"]) == 0
    assert "replaced: 6" in capsys.readouterr().out
    # runs/, its two datasets, 24 files; weights/, its two datasets, each model's selected
    # seed-0 run released (4 files); no staging folder left
    assert len(snapshot(repro)) == 3 + 2 * 12 + 3 + 2 * 2


def test_an_interruption_half_way_puts_every_file_back(tmp_path, repro, capsys, monkeypatch):
    """Ctrl-C (or a signal) right after the 3rd file is placed: all put back, rc 130."""
    grid(tmp_path / "b", datasets=("GunPoint", "ItalyPowerDemand"), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.5)
    before = snapshot(repro)
    calls = []

    def place(staged, dest):
        os.replace(staged, dest)
        calls.append(dest)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(staging, "place", place)
    rc = main(["publish", str(tmp_path / "b"), "--to", str(repro), "--replace"])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert snapshot(repro) == before


def test_a_folder_that_cannot_be_made_leaves_the_others_as_they_were(tmp_path, capsys):
    """A real failure of the file system half-way (no patching; it fails as root too): a file
    stands where a new dataset's folder must go, after GunPoint's replacements are staged."""
    grid(tmp_path / "a", datasets=("GunPoint",), seeds=(0,))
    publish.publish(tmp_path / "a", tmp_path / "repro")
    grid(tmp_path / "b", seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.5)
    (tmp_path / "repro" / "runs" / "ItalyPowerDemand").write_text("in the way\n")
    before = snapshot(tmp_path / "repro")
    err = fails(capsys, "publish", tmp_path / "b", "--to", tmp_path / "repro", "--replace")
    assert "every file there is as it was" in err
    assert snapshot(tmp_path / "repro") == before


def test_a_staging_folder_left_by_an_interrupted_publish_is_an_error(tmp_path, repro, capsys):
    (repro / f"{staging.PREFIX}x" / "backup").mkdir(parents=True)
    before = snapshot(repro)
    grid(tmp_path / "b", datasets=("ItalyPowerDemand",), seeds=(0,))
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro)
    assert "left by an interrupted write" in err
    assert snapshot(repro) == before


# -------------------------------------------------------------------- 2. bad metrics are refused


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("test_accuracy", math.nan, "test_accuracy (a number in [0, 1], got nan)"),
        ("test_accuracy", 1.7, "test_accuracy (a number in [0, 1], got 1.7)"),
        ("train_loss", ..., "metrics file lacks key(s) train_loss"),
        ("eval_seconds", math.nan, "hold NaN or an infinity, which a record cannot hold"),
        ("train_seconds", math.inf, "hold NaN or an infinity, which a record cannot hold"),
    ],
)
def test_bad_metrics_are_refused_before_anything_is_written(
    tmp_path, repro, capsys, key, value, says
):
    grid(tmp_path / "b", datasets=("ItalyPowerDemand",), seeds=(0,))
    set_metric(tmp_path / "b", "ItalyPowerDemand", key, value, stem="lstmfcn_c64_s0")
    before = snapshot(repro)
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro)
    assert err.startswith("lstmfcn publish: error: nothing published: ")
    assert "lstmfcn_c64_s0" in err and says in err
    assert snapshot(repro) == before


def test_a_nan_in_the_train_info_is_refused_and_no_record_holds_nan(tmp_path, repro, capsys):
    grid(tmp_path / "b", datasets=("ItalyPowerDemand",), seeds=(0,))
    info = Run("ItalyPowerDemand", "alstmfcn", 8, 0).path("info", tmp_path / "b")
    info.write_text(info.read_text().replace('"seconds": 60.0', '"seconds": NaN'))
    before = snapshot(repro)
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro)
    assert "ItalyPowerDemand/alstmfcn_c8_s0: its metrics or _train.json hold NaN" in err
    assert snapshot(repro) == before
    assert not any("NaN" in p.read_text() for p in repro.rglob("*.json"))


# ------------------------------------------------------ 3. a file named after no single run


@pytest.mark.parametrize(
    "where, name",
    [("a", "notes.json"), ("a", "lstmfcn_c8_s0-1.json"), ("repro", "notes.json")],
)
def test_a_file_named_after_no_single_run_is_skipped_with_one_warning(
    tmp_path, capsys, where, name
):
    grid(tmp_path / "a", datasets=("GunPoint",), seeds=(0,))
    folder = tmp_path / where / ("metrics" if where == "a" else "runs") / "GunPoint"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text('{"note": "by hand"}')
    assert main(["publish", str(tmp_path / "a"), "--to", str(tmp_path / "repro")]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"lstmfcn publish: warning: skipped {folder / name}: not named after one run "
        "({model}_c{cells}_s{seed}.json)\n"
    )
    assert "added: 6" in out
    assert (folder / name).read_text() == '{"note": "by hand"}'  # left alone


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A reproduction folder with its table built, and a README with its block: copied per
    test (building the table takes seconds)."""
    root = tmp_path_factory.mktemp("built")
    grid(root / "results", seeds=(0,))
    publish.publish(root / "results", root / "repro")
    aggregate.build_table(root / "repro")
    (root / "README.md").write_text(README.format(begin=readme_block.BEGIN, end=readme_block.END))
    return root


@pytest.fixture
def site(built, tmp_path) -> Path:
    """A copy of :func:`built` whose table files each end in one more newline than a rebuild
    writes: a rebuild would show."""
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    for path in (tmp_path / "repro" / "table").iterdir():
        path.write_bytes(path.read_bytes() + b"\n")
    return tmp_path


@pytest.mark.parametrize("name", ["notes.json", "lstmfcn_c8_s0-1.json"])
def test_aggregate_refuses_a_stray_file_among_the_records(site, capsys, name):
    stray = site / "repro" / "runs" / "GunPoint" / name
    stray.write_text("{}")
    before = snapshot(site)
    err = fails(capsys, "aggregate", site / "repro", "--readme", site / "README.md")
    assert f"{stray}: not named after one run" in err and "move it out of" in err
    assert snapshot(site) == before
    with pytest.raises(LstmfcnError, match="not a record"):
        records.record_paths(site / "repro")


# ---------------------------------------------------------------- 4. two publishers at once

RACER = """
import sys, time
from pathlib import Path
import lstmfcn_bench.results.publish  # imported before the start line: both start together
from lstmfcn_bench.cli import main
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.0005)
sys.exit(main(sys.argv[3:]))
"""


def race(tmp_path: Path, sides: list[Path], to: Path) -> list[subprocess.CompletedProcess]:
    """``lstmfcn publish SIDE --to TO`` for each side, started at the same moment."""
    go = tmp_path / f"go-{to.name}"
    procs = []
    for i, side in enumerate(sides):
        ready = tmp_path / f"ready-{to.name}-{i}"
        cmd = [sys.executable, "-c", RACER, ready, go, "publish", side, "--to", to]
        procs.append(
            (ready, subprocess.Popen(list(map(str, cmd)), stdout=-1, stderr=-1, text=True))
        )
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    done = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def test_two_publishers_of_other_results_into_a_new_folder_one_adds_one_refuses(tmp_path):
    sides = [tmp_path / "a", tmp_path / "b"]
    for side in sides:
        grid(side, datasets=("GunPoint",), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.5)
    expected = []
    for side in sides:  # what each side alone publishes
        publish.publish(side, tmp_path / f"alone-{side.name}")
        expected.append(contents(tmp_path / f"alone-{side.name}"))
    for attempt in range(4):
        to = tmp_path / f"repro{attempt}"
        results = race(tmp_path, sides, to)
        won = [i for i, r in enumerate(results) if r.returncode == 0]
        assert len(won) == 1, [(r.returncode, r.stdout, r.stderr) for r in results]
        winner, loser = results[won[0]], results[1 - won[0]]
        assert "added: 6 (" in winner.stdout and "publish: error" not in winner.stderr
        assert loser.returncode == 2 and "added" not in loser.stdout
        assert loser.stderr.startswith("lstmfcn publish: error: nothing published: 6 run(s)")
        assert loser.stderr.count("already published with other results") == 6
        assert contents(to) == expected[won[0]]  # every record, history and model the winner's


# ------------------------------------------------- 5. aggregate --readme checks before any work


def two_blocks(readme: Path) -> None:
    readme.write_text(readme.read_text() + f"{readme_block.BEGIN}\nagain\n{readme_block.END}\n")


def end_first(readme: Path) -> None:
    b, e = readme_block.BEGIN, readme_block.END
    readme.write_text(readme.read_text().replace(b, "@").replace(e, b).replace("@", e))


def no_provenance(readme: Path) -> None:
    path = Run("GunPoint", "lstmfcn", 64, 0).path("record", readme.parent / "repro")
    record = json.loads(path.read_text())
    del record["provenance"]
    path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    "spoil, says",
    [
        (Path.unlink, "cannot read"),
        (lambda r: (r.unlink(), r.mkdir()), "is a folder, not a README file"),
        (end_first, "end marker comes before its begin"),
        (two_blocks, "has 2 begin and 2 end markers"),
        (lambda r: r.write_text(r.read_text().replace(readme_block.END, "")), "0 end markers"),
        (no_provenance, "GunPoint/lstmfcn_c64_s0.json: a record needs its provenance"),
    ],
    ids=["missing", "folder", "end-before-begin", "two-blocks", "no-end", "no-provenance"],
)
def test_aggregate_refuses_a_readme_or_record_it_cannot_use_before_writing(
    site, capsys, spoil, says
):
    readme = site / "README.md"
    spoil(readme)
    before = snapshot(site)
    err = fails(capsys, "aggregate", site / "repro", "--readme", readme)
    assert err.startswith("lstmfcn aggregate: error: ") and says in err
    assert snapshot(site) == before


def test_metrics_of_an_earlier_training_are_refused(tmp_path, capsys):
    """Evaluated, then trained again (here on the archive's split) without a new evaluation:
    the metrics would pair the old test numbers with the new weights and provenance."""
    grid(tmp_path / "b", datasets=("GunPoint",), seeds=(0,))
    info = Run("GunPoint", "alstmfcn", 64, 0).path("info", tmp_path / "b")
    train = json.loads(info.read_text())
    train["config"]["split"], train["seconds"] = "2018", train["seconds"] + 1.0
    info.write_text(json.dumps(train))
    err = fails(capsys, "publish", tmp_path / "b", "--to", tmp_path / "repro")
    assert "GunPoint/alstmfcn_c64_s0: its metrics come from another training than its " in err
    assert "(train_config, train_seconds differ): rerun `lstmfcn evaluate` on it" in err
    assert snapshot(tmp_path / "repro") is None


def test_a_rerun_of_some_cells_that_would_move_a_release_is_refused(tmp_path, repro, capsys):
    """The grid's least loss is at 64 cells (released); a rerun of 8 cells alone with less loss
    would make the table select 8 while the 64-cell record and file stay released: refused."""
    assert (repro / "weights/GunPoint/lstmfcn_c64_s0.keras").is_file()
    grid(tmp_path / "b", datasets=("GunPoint",), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "train_loss", 0.001, stem="lstmfcn_c8_s0")
    for other in ("lstmfcn_c64_s0", "lstmfcn_c128_s0", "alstmfcn_c*_s0"):
        for path in (tmp_path / "b" / "metrics" / "GunPoint").glob(f"{other}.json"):
            path.unlink()
    before = snapshot(repro)
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro, "--replace")
    assert "GunPoint lstmfcn seed 0: this publish would select cells 8 where cells 64" in err
    assert snapshot(repro) == before


def test_a_rerun_of_the_three_cells_moves_the_release_with_it(tmp_path, repro, capsys):
    """The seed's three cells rerun (a split corrected, say) and the least loss now at 8 cells:
    the 8-cell run is released, the 64-cell file goes, in the same all-or-nothing publish."""
    old = repro / "weights/GunPoint/lstmfcn_c64_s0.keras"
    assert old.is_file()
    grid(tmp_path / "b", datasets=("GunPoint",), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.9)  # every run's result anew
    set_metric(tmp_path / "b", "GunPoint", "train_loss", 0.001, stem="lstmfcn_c8_s0")
    assert main(["publish", str(tmp_path / "b"), "--to", str(repro), "--replace"]) == 0
    assert "replaced: 6" in capsys.readouterr().out
    assert not old.exists() and (repro / "weights/GunPoint/lstmfcn_c8_s0.keras").is_file()

    def record(cells):
        return json.loads(Run("GunPoint", "lstmfcn", cells, 0).path("record", repro).read_text())

    assert record(8)["released"]["path"] == "weights/GunPoint/lstmfcn_c8_s0.keras"
    assert "released" not in record(64)
    assert main(["aggregate", str(repro)]) == 0  # the table and the released files agree


def test_a_rerun_of_the_released_cells_alone_that_loses_the_selection_is_refused(
    tmp_path, repro, capsys
):
    """64 cells released; its rerun alone comes out with more loss, so the table would select
    a kept record that was never released: refused, rather than left without a release."""
    grid(tmp_path / "b", datasets=("GunPoint",), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "train_loss", 0.5, stem="lstmfcn_c64_s0")
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.9, stem="lstmfcn_c64_s0")
    for path in (tmp_path / "b" / "metrics" / "GunPoint").glob("*.json"):
        if path.stem != "lstmfcn_c64_s0":
            path.unlink()
    before = snapshot(repro)
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro, "--replace")
    assert "GunPoint lstmfcn seed 0: this publish would select cells" in err
    assert snapshot(repro) == before


def test_staging_refuses_one_path_both_removed_and_added(tmp_path):
    with staging.Staging(tmp_path) as stage:
        stage.remove("a/x.keras")
        with pytest.raises(ValueError):
            stage.add_bytes("a/x.keras", b"new")
        with pytest.raises(ValueError):
            stage.remove("a/x.keras")


def test_a_failed_publish_puts_back_a_release_it_removed(tmp_path, repro, capsys, monkeypatch):
    old = repro / "weights/GunPoint/lstmfcn_c64_s0.keras"
    grid(tmp_path / "b", datasets=("GunPoint",), seeds=(0,))
    set_metric(tmp_path / "b", "GunPoint", "test_accuracy", 0.9)
    set_metric(tmp_path / "b", "GunPoint", "train_loss", 0.001, stem="lstmfcn_c8_s0")
    before = snapshot(repro)
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        if self == old:
            raise OSError(errno.EIO, "Input/output error (simulated)")
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    err = fails(capsys, "publish", tmp_path / "b", "--to", repro, "--replace")
    assert f"cannot remove {old}" in err and "every file there is as it was" in err
    monkeypatch.undo()
    assert snapshot(repro) == before
