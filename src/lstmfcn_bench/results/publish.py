"""Publishing: a results folder's evaluated runs → compact records in the committed
reproduction folder (``lstmfcn publish``).

A record (``reproduction/runs/{dataset}/{stem}.json``) is the run's metrics JSON, as
``lstmfcn evaluate`` wrote it, with the run's ``_train.json`` under ``train_info`` and a short
``provenance`` a reader can check at a glance; beside it the training history, thinned to a
small CSV. The table (``reproduction/table/``) is only ever rebuilt from the records, never
edited.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import LstmfcnError
from ..runs import Run, run_of
from ..training.config import PAPER_CELLS, protocol_differences
from .records import ROOT, read_json

RECORD_VERSION = 1
#: The history a record keeps: every epoch up to this one, then every HISTORY_STRIDE-th, plus
#: the kept epoch and the last (enough to draw the curves, a few kB a run).
HISTORY_DENSE = 50
HISTORY_STRIDE = 10
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "lr")
#: Metrics keys a record needs that older evaluations did not write.
EVALUATION_KEYS = ("flags", "recalibrated", "train_accuracy_inference")


def thin_history(text: str, best_epoch: int | None) -> str:
    """The history CSV of a run, cut to :data:`HISTORY_FIELDS` and the epochs a record keeps."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        return ",".join(HISTORY_FIELDS) + "\n"
    last = int(rows[-1]["epoch"])
    keep = []
    for row in rows:
        epoch = int(row["epoch"])
        if epoch <= HISTORY_DENSE or epoch % HISTORY_STRIDE == 0 or epoch in (best_epoch, last):
            keep.append(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_FIELDS)
    for row in keep:
        writer.writerow(
            [row["epoch"], *(f"{float(row[k]):.6g}" for k in HISTORY_FIELDS if k != "epoch")]
        )
    return out.getvalue()


def provenance(train_info: dict) -> dict:
    """What a reader checks first: protocol, seed, where and with what it ran, which code."""
    config = train_info.get("config", {})
    code = train_info.get("code") or {"commit": None, "dirty": None}
    return {
        "protocol": {
            k: config.get(k)
            for k in ("epochs", "cells", "batch_size", "plateau_patience", "shuffle")
        },
        "paper_protocol": not protocol_differences(config),
        "protocol_differences": protocol_differences(config),
        "seed": config.get("seed"),
        "backend": train_info.get("backend"),
        "engine": train_info.get("engine", "keras"),
        "precision": train_info.get("precision"),
        "device": train_info.get("device"),
        "versions": train_info.get("versions"),
        "commit": code.get("commit"),
        "dirty_tree": code.get("dirty"),
        "train_seconds": train_info.get("seconds"),
    }


def _candidate(metrics_path: Path, results: Path) -> tuple[Run, dict, str]:
    """A finished run of ``results`` as (run, record, thinned history), or why it cannot be."""
    run = run_of(metrics_path)
    metrics = read_json(metrics_path, "metrics file")
    name = f"{run.dataset}/{run.stem}"
    missing = [k for k in EVALUATION_KEYS if k not in metrics]
    if missing:
        raise LstmfcnError(
            f"{name}: its metrics lack {', '.join(missing)} (evaluated by an older lstmfcn); "
            f"rerun `lstmfcn evaluate` on it"
        )
    train_info = read_json(run.path("info", results), "run's _train.json")
    config = train_info.get("config", {})
    said = (metrics.get("dataset"), config.get("model"), config.get("cells"), config.get("seed"))
    if said != (run.dataset, run.model, run.cells, run.seed):
        raise LstmfcnError(f"{name}: its files describe another run {said}")
    history = run.path("history", results)
    try:
        history_text = history.read_text("utf-8")
    except OSError:
        raise LstmfcnError(f"{name}: no history at {history}") from None
    record = {
        "record_version": RECORD_VERSION,
        **metrics,
        "provenance": provenance(train_info),
        "train_info": train_info,
    }
    return run, record, thin_history(history_text, train_info.get("best_epoch"))


def _record_text(record: dict) -> str:
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def _same_run(old: dict, new: dict) -> bool:
    """Two records of one run with the same outcome: equal but for when and where the
    evaluation ran (a re-evaluation elsewhere is not a rerun)."""

    def core(r):
        drop = {"eval_seconds", "eval_device"}
        return {k: v for k, v in r.items() if k not in drop}

    return core(old) == core(new)


def publish(
    results: Path, to: Path = ROOT, replace: bool = False, any_protocol: bool = False
) -> dict[str, list[str]]:
    """Copy the records of every evaluated run under ``results`` into ``to``.

    All or nothing: every run is checked first, and if one is refused (a protocol other than
    the paper's without ``any_protocol``, a different record of the same run already
    published without ``replace``, an evaluation too old, files that disagree) nothing is
    written and the error lists each refusal on its own line. A seed whose cells 8/64/128 have
    not all finished is held back (``waiting``): the paper's selection needs all three. Returns
    run names by outcome: ``added``, ``replaced``, ``unchanged``, ``waiting``, ``dirty``
    (trained from a tree with uncommitted changes or an unknown commit: published, and marked
    so in the record's provenance)."""
    results, to = Path(results), Path(to)
    metrics_paths = sorted((results / "metrics").glob("*/*.json"))
    if not metrics_paths:
        raise LstmfcnError(f"no evaluated runs under {results} (no metrics/*/*.json)")
    refused, writes = [], []
    outcome: dict[str, list[str]] = {
        "added": [],
        "replaced": [],
        "unchanged": [],
        "waiting": [],
        "dirty": [],
    }
    finished = {run_of(p) for p in metrics_paths} | {run_of(p) for p in to.glob("runs/*/*.json")}
    for path in metrics_paths:
        try:
            run, record, history = _candidate(path, results)
        except LstmfcnError as e:
            refused.append(str(e))
            continue
        name = f"{run.dataset}/{run.stem}"
        differs = record["provenance"]["protocol_differences"]
        if differs and not any_protocol:
            refused.append(
                f"{name}: not the paper's protocol: {'; '.join(differs)} "
                "(pass --any-protocol to publish it as another protocol)"
            )
            continue
        cells = {
            r.cells
            for r in finished
            if (r.dataset, r.model, r.seed) == (run.dataset, run.model, run.seed)
        }
        if not any_protocol and not set(PAPER_CELLS) <= cells:
            outcome["waiting"].append(name)
            continue
        target = run.path("record", to)
        if target.is_file():
            old = read_json(target, "record")
            if _same_run(old, record):
                outcome["unchanged"].append(name)
                continue
            if not replace:
                refused.append(
                    f"{name}: already published with other results ({target}); pass "
                    "--replace to replace it with this rerun (a workflow with "
                    "skip_published=reproduction does not train recorded datasets again)"
                )
                continue
            outcome["replaced"].append(name)
        else:
            outcome["added"].append(name)
        if record["provenance"]["dirty_tree"] is not False:
            outcome["dirty"].append(name)
        writes.append((run, record, history))
    if refused:
        raise LstmfcnError(
            f"nothing published: {len(refused)} run(s) refused\n" + "\n".join(refused)
        )
    for run, record, history in writes:
        atomic_write_text(run.path("record_history", to), history)
        atomic_write_text(run.path("record", to), _record_text(record))
    return outcome
