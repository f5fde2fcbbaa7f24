"""What runs leave behind, read and checked: metrics files (``lstmfcn evaluate``'s JSON) and the
committed reproduction folder's records (``reproduction/runs/{dataset}/{stem}.json``: a run's
metrics with its ``_train.json`` and provenance).

Every reader of either goes through here, so a bad value is refused with one line naming the
file, the same way for the table, the publisher and the planner.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path

import pandas as pd

from ..data import splits
from ..data.registry import canonical_name
from ..errors import LstmfcnError, UnknownDatasetError
from ..baselines import is_baseline
from ..runs import MODELS, STEM, Run, run_of
from ..training.config import protocol_differences

#: The committed folder, relative to the repository root.
ROOT = Path("reproduction")

#: Keys every metrics file must have (values may be null only for the descriptive ones).
REQUIRED_KEYS: tuple[str, ...] = (
    "dataset",
    "model",
    "cells",
    "seed",
    "test_accuracy",
    "train_loss",
    "train_accuracy",
    "best_epoch",
    "epochs_run",
    "train_seconds",
    "backend",
    "device",
)
#: Columns of accuracy.csv: the same, test accuracy called ``accuracy``, then what evaluation
#: adds when it has it: inference-mode accuracy on the training split, the failure flags
#: ("never_learned", "inference_collapse", joined by "+"; "" for none), the BN-recalibrated
#: variant's test accuracy, how the run's protocol departs from the paper's ("" if not),
#: whether it is a released model's, and the size of the test split.
EXTRA_COLUMNS: list[str] = [
    "train_accuracy_inference",
    "flags",
    "recalibrated_accuracy",
    "protocol",
    "released",
    "n_test",
]
LONG_COLUMNS: list[str] = [
    *("accuracy" if k == "test_accuracy" else k for k in REQUIRED_KEYS),
    *EXTRA_COLUMNS,
]
RUN_KEY = ["dataset", "model", "cells", "seed"]


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except OSError:
        raise LstmfcnError(f"no {what} at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LstmfcnError(f"{path} is not a valid {what} ({e})") from None


def _is_int(v: object) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_real(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def check_metric(metric: object, source: str) -> dict:
    """Validate one metrics dict; return the row of the long table. Errors name ``source``."""
    if not isinstance(metric, dict):
        raise LstmfcnError(f"{source}: a metrics file must hold a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in metric]
    if missing:
        raise LstmfcnError(f"{source}: metrics file lacks key(s) {', '.join(missing)}")
    bad = []
    if not isinstance(metric["dataset"], str) or not metric["dataset"]:
        bad.append("dataset (a non-empty name)")
    if metric["model"] not in MODELS:
        bad.append(f"model (one of {', '.join(MODELS)}, got {metric['model']!r})")
    baseline = is_baseline(metric["model"])
    if baseline and metric["cells"] != 0:
        bad.append(f"cells (0 for {metric['model']}, which has no LSTM; got {metric['cells']!r})")
    elif not baseline and (not _is_int(metric["cells"]) or metric["cells"] < 1):
        bad.append(f"cells (a positive integer, got {metric['cells']!r})")
    if not _is_int(metric["seed"]):
        bad.append(f"seed (an integer, got {metric['seed']!r})")
    acc = metric["test_accuracy"]
    if not _is_real(acc) or not 0.0 <= float(acc) <= 1.0:
        bad.append(f"test_accuracy (a number in [0, 1], got {acc!r})")
    if not _is_real(metric["train_loss"]) and not (baseline and metric["train_loss"] is None):
        bad.append(f"train_loss (a finite number, got {metric['train_loss']!r})")
    if bad:
        raise LstmfcnError(f"{source}: bad value for {'; '.join(bad)}")
    try:
        dataset = canonical_name(metric["dataset"])
    except UnknownDatasetError:
        dataset = metric["dataset"]  # not a UCR name: kept as is (no published numbers)
    row = {k: metric[k] for k in REQUIRED_KEYS}
    row["dataset"] = dataset
    row["accuracy"] = float(row.pop("test_accuracy"))
    row["train_loss"] = float("nan") if baseline else float(row["train_loss"])
    row["cells"] = int(row["cells"])
    row["seed"] = int(row["seed"])
    flags = metric.get("flags")
    config = metric.get("train_config")
    row.update(
        train_accuracy_inference=metric.get("train_accuracy_inference"),
        flags="+".join(flags) if flags else "",
        recalibrated_accuracy=(metric.get("recalibrated") or {}).get("test_accuracy"),
        # A baseline runs its library's defaults: the paper's protocol does not apply to it.
        protocol=""
        if baseline
        else "; ".join(protocol_differences(config, dataset))
        if config
        else "not recorded",
        released=bool(metric.get("released")),
        n_test=metric.get("n_test"),
    )
    return row


def load_metrics(paths: Iterable[Path]) -> tuple[list[dict], list[str]]:
    """Read metrics JSON files; return the dicts and their sources (file names) in order."""
    metrics, sources = [], []
    for p in paths:
        p = Path(p)
        try:
            metrics.append(json.loads(p.read_text("utf-8")))
        except OSError as e:
            raise LstmfcnError(f"{p}: cannot read metrics file ({e.strerror or e})") from e
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LstmfcnError(f"{p}: not valid JSON ({e})") from e
        sources.append(str(p))
    return metrics, sources


def accuracy_long(metrics: Sequence[dict], sources: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run, sorted by dataset, model, cells, seed.

    ``sources`` (e.g. file names, parallel to ``metrics``) are used in error messages; a
    missing key, a bad value or two runs with the same (dataset, model, cells, seed) raise
    :class:`LstmfcnError` naming them.
    """
    if sources is None:
        sources = [f"metrics[{i}]" for i in range(len(metrics))]
    if len(sources) != len(metrics):
        raise LstmfcnError("accuracy_long: sources and metrics differ in length")
    rows, seen = [], {}
    for m, src in zip(metrics, sources, strict=True):
        row = check_metric(m, src)
        key = tuple(row[k] for k in RUN_KEY)
        if key in seen:
            raise LstmfcnError(
                f"duplicate run dataset={key[0]} model={key[1]} cells={key[2]} seed={key[3]}: "
                f"{seen[key]} and {src}"
            )
        seen[key] = src
        rows.append(row)
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    numeric = ("accuracy", "train_loss", "train_accuracy", "train_seconds")
    for col in (*numeric, "train_accuracy_inference", "recalibrated_accuracy"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ("best_epoch", "epochs_run", "n_test"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["cells"] = df["cells"].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    return df.sort_values(RUN_KEY, kind="stable").reset_index(drop=True)


def named_runs(paths: Iterable[Path]) -> tuple[dict[Path, Run], list[Path]]:
    """The files of ``paths`` named after one run, each with its run; and the others (named
    after no run, or after a training group's several runs), in order."""
    runs, strays = {}, []
    for path in paths:
        try:
            runs[Path(path)] = run_of(path)
        except ValueError:
            strays.append(Path(path))
    return runs, strays


def stray_note(path: Path) -> str:
    """What is wrong with a file :func:`named_runs` finds named after no single run."""
    return f"{path}: not named after one run ({STEM}.json)"


def record_paths(root: Path = ROOT) -> list[Path]:
    """Every record of a reproduction folder, in a stable order; an error for a file there
    named after no single run (the table is built from records only)."""
    runs = Path(root, "runs")
    paths = sorted(runs.glob("*/*.json"))
    if not paths:
        raise LstmfcnError(f"no records under {runs} (nothing published yet)")
    _, strays = named_runs(paths)
    if strays:
        more = f" (and {len(strays) - 1} more)" if len(strays) > 1 else ""
        raise LstmfcnError(f"{stray_note(strays[0])}{more}: not a record; move it out of {runs}")
    return paths


def check_record(record: object, source: str) -> None:
    """A record's metrics checked as :func:`check_metric` checks a metrics file, and its
    provenance there (the README's block reads it). Errors name ``source``."""
    check_metric(record, source)
    prov = record.get("provenance")  # check_metric made sure record is a dict
    if not isinstance(prov, dict):
        raise LstmfcnError(f"{source}: a record needs its provenance (republish the run)")
    seconds = prov.get("train_seconds")
    if seconds is not None and not _is_real(seconds):
        raise LstmfcnError(f"{source}: bad provenance train_seconds {seconds!r}")


def checked_record_paths(root: Path = ROOT) -> list[Path]:
    """:func:`record_paths`, every record read and checked (:func:`check_record`): before
    anything is built from them."""
    paths = record_paths(root)
    for path in paths:
        check_record(read_json(path, "record"), str(path))
    return paths


def table_dir(root: Path = ROOT) -> Path:
    return Path(root) / "table"


#: The plan's per-dataset training settings (plan.TRAIN_KEYS) as a record's ``train_config``
#: names them; checkpoint_every changes no result, so a record need not match it.
SETTING_AS_RECORDED = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "patience": "plateau_patience",
    "shuffle": "shuffle",
}


def published_datasets(runs, train: dict[str, dict], root: Path = ROOT) -> set[str]:
    """The datasets of ``runs`` whose every run already has a record under ``root`` trained
    with the settings ``train`` plans for its dataset: what a plan with ``skip_published``
    leaves out (a dataset with only some of them, or recorded with other settings or another
    split than the paper's, stays)."""
    root = Path(root).expanduser()
    if not (root / "runs").is_dir():
        raise LstmfcnError(f"{root}: not a reproduction folder (it has no runs/ folder)")

    def recorded(run: Run) -> bool:
        path = run.path("record", root)
        if not path.is_file():
            return False
        if is_baseline(run.model):  # its library's defaults: no training settings to match
            return True
        config = read_json(path, "record").get("train_config", {})
        wanted = train[run.dataset]
        # a run of the archive's split where the paper's differs is trained again
        same_split = splits.exchanges(run.dataset, splits.of_run(config)) == splits.exchanges(
            run.dataset, splits.PAPER
        )
        return same_split and all(
            config.get(k) == wanted[s] for s, k in SETTING_AS_RECORDED.items()
        )

    missing = {run.dataset for run in runs if not recorded(run)}
    return {run.dataset for run in runs} - missing
