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

from ..atomic import sha256_file
from ..baselines import is_baseline
from ..errors import LstmfcnError
from ..runs import Run
from ..training.config import PAPER_CELLS, protocol_differences
from .records import ROOT, check_metric, named_runs, read_json, stray_note
from .staging import Staging, exclusive
from .weights import selected_releases, stage_release, weights_digest

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


def provenance(train_info: dict, dataset: str) -> dict:
    """What a reader checks first: protocol (the split counts on ``dataset``, if the 2018
    archive exchanged it), seed, where and with what it ran, which code."""
    config = train_info.get("config", {})
    code = train_info.get("code") or {"commit": None, "dirty": None}
    if is_baseline(config.get("model", "")):  # its library's defaults: the paper's do not apply
        protocol, paper, differences = config.get("hyperparameters"), None, []
    else:
        keys = ("epochs", "cells", "batch_size", "plateau_patience", "shuffle")
        protocol = {k: config.get(k) for k in keys}
        differences = protocol_differences(config, dataset)
        paper = not differences
    return {
        "protocol": protocol,
        "paper_protocol": paper,
        "protocol_differences": differences,
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


#: A run ready to publish: its name, its record, the record's JSON and its thinned history
#: (None for a baseline, which has none).
Candidate = tuple[Run, dict, str, str | None]


def _candidate(metrics_path: Path, run: Run, results: Path) -> Candidate:
    """A finished run of ``results`` ready to publish, or why it cannot be."""
    metrics = read_json(metrics_path, "metrics file")
    check_metric(metrics, str(metrics_path))  # the table's own check, before anything is written
    name = f"{run.dataset}/{run.stem}"
    missing = [k for k in EVALUATION_KEYS if k not in metrics]
    if missing:
        raise LstmfcnError(
            f"{name}: its metrics lack {', '.join(missing)} (evaluated by an older lstmfcn); "
            f"rerun `lstmfcn evaluate` on it"
        )
    train_info = read_json(run.path("info", results), "run's _train.json")
    config = train_info.get("config", {}) if isinstance(train_info, dict) else {}
    said = (metrics.get("dataset"), config.get("model"), config.get("cells"), config.get("seed"))
    if said != (run.dataset, run.model, run.cells, run.seed):
        raise LstmfcnError(f"{name}: its files describe another run {said}")
    baseline = is_baseline(run.model)
    thinned = None if baseline else _thinned_history(run, results, train_info, name)
    model = run.path("model", results)
    if not model.is_file():
        raise LstmfcnError(f"{name}: no kept model at {model} (a record names its weights)")
    # A baseline's fitted classifier is a joblib file, named by its bytes; a Keras model by
    # its layer weights (weights.py), which do not depend on the date it was saved.
    kept = {"kept_model_sha256": sha256_file(model)} if baseline else {
        "kept_weights_sha256": weights_digest(model)
    }
    # A trained run's metrics say "released": null (not evaluated from a released file); in a
    # record the key names the run's own released file, which only the selected run gets.
    if metrics.get("released") is None:
        metrics = {k: v for k, v in metrics.items() if k != "released"}
    record = {
        "record_version": RECORD_VERSION,
        **metrics,
        **kept,
        "provenance": provenance(train_info, run.dataset),
        "train_info": train_info,
    }
    text = _record_text(record, name)  # a value no record can hold is said first
    # Evaluation copies these from the _train.json it read: a retraining since (another split,
    # another seed's luck) leaves metrics that would pair old numbers with the new weights.
    copied = {
        "train_config": config,
        "train_loss": train_info.get("train_loss"),
        "best_epoch": train_info.get("best_epoch"),
        "train_seconds": train_info.get("seconds"),
    }
    stale = [k for k, v in copied.items() if metrics.get(k) != v]
    if stale:
        raise LstmfcnError(
            f"{name}: its metrics come from another training than its _train.json "
            f"({', '.join(stale)} differ): rerun `lstmfcn evaluate` on it"
        )
    return run, record, text, thinned


def _thinned_history(run: Run, results: Path, train_info: dict, name: str) -> str:
    history = run.path("history", results)
    try:
        return thin_history(history.read_text("utf-8"), train_info.get("best_epoch"))
    except OSError:
        raise LstmfcnError(f"{name}: no history at {history}") from None
    except (KeyError, ValueError, UnicodeDecodeError) as e:
        raise LstmfcnError(f"{name}: {history} is not a training history ({e})") from None


def _record_text(record: dict, name: str) -> str:
    try:
        return json.dumps(record, indent=1, sort_keys=True, allow_nan=False) + "\n"
    except ValueError:
        raise LstmfcnError(
            f"{name}: its metrics or _train.json hold NaN or an infinity, which a record "
            "cannot hold"
        ) from None


def _same_run(old: object, new: dict) -> bool:
    """Two records of one run with the same outcome: equal but for when and where the
    evaluation ran (a re-evaluation elsewhere is not a rerun) and for the released file's
    bytes (a copy saved again holds another date; ``kept_weights_sha256`` still compares)."""

    def core(r):
        drop = {"eval_seconds", "eval_device", "released"}
        return {k: v for k, v in r.items() if k not in drop}

    return isinstance(old, dict) and core(old) == core(new)


def _read_results(results: Path, skipped: list[str]) -> tuple[list[Candidate], list[str], set]:
    """Every evaluated run of ``results``: those ready to publish, why the others cannot be,
    and every run named by a metrics file. A file named after no single run is skipped, with
    a line in ``skipped``."""
    paths = sorted((results / "metrics").glob("*/*.json"))
    runs, strays = named_runs(paths)
    skipped += [f"skipped {stray_note(p)}" for p in strays]
    if not runs:
        raise LstmfcnError(f"no evaluated runs under {results} (no metrics/*/*.json)")
    candidates, refused = [], []
    for path, run in runs.items():
        try:
            candidates.append(_candidate(path, run, results))
        except LstmfcnError as e:
            refused.append(str(e))
    return candidates, refused, set(runs.values())


def _decide(
    candidates: list[Candidate],
    finished: set,
    to: Path,
    outcome: dict,
    replace: bool,
    any_protocol: bool,
) -> tuple[list[Candidate], list[str]]:
    """What to write of ``candidates`` (into ``outcome`` by name) and what is refused: made
    under the target's lock, so the records it compares with are the ones it will replace."""
    writes, refused = [], []
    for candidate in candidates:
        run, record = candidate[:2]
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
        needed = {0} if is_baseline(run.model) else set(PAPER_CELLS)
        if not any_protocol and not needed <= cells:
            outcome["waiting"].append(name)
            continue
        target = run.path("record", to)
        if target.is_file():
            if _same_run(read_json(target, "record"), record):
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
        writes.append(candidate)
    return writes, refused


def _refusal(refused: list[str]) -> LstmfcnError:
    if len(refused) == 1:
        return LstmfcnError(f"nothing published: {refused[0]}")
    return LstmfcnError(f"nothing published: {len(refused)} run(s) refused\n" + "\n".join(refused))


def publish(
    results: Path, to: Path = ROOT, replace: bool = False, any_protocol: bool = False
) -> dict[str, list[str]]:
    """Copy the records of every evaluated run under ``results`` into ``to``.

    All or nothing: every run is checked first, and if one is refused (bad metrics, a protocol
    other than the paper's without ``any_protocol``, a different record of the same run
    already published without ``replace``, an evaluation too old, files that disagree)
    nothing is written and the error lists each refusal on its own line. The check and the
    writes are made under ``to``'s lock, one publish at a time, and every file is staged in
    ``to`` then moved into place; if a move fails, ``to`` is put back as it was. A seed whose
    cells 8/64/128 have not all finished is held back (``waiting``): the paper's selection
    needs all three. Returns run names by outcome: ``added``, ``replaced``, ``unchanged``,
    ``waiting``, ``dirty`` (trained from a tree with uncommitted changes or an unknown commit:
    published, and marked so in the record's provenance); and ``skipped``: a line for each
    file, among the metrics or the records, named after no single run (left alone)."""
    results, to = Path(results), Path(to)
    outcome: dict[str, list[str]] = {
        k: [] for k in ("added", "replaced", "unchanged", "waiting", "dirty", "skipped")
    }
    candidates, refused, finished = _read_results(results, outcome["skipped"])
    with exclusive(to):
        published, strays = named_runs(sorted(to.glob("runs/*/*.json")))
        outcome["skipped"] += [f"skipped {stray_note(p)}" for p in strays]
        finished |= set(published.values())
        writes, refused_here = _decide(candidates, finished, to, outcome, replace, any_protocol)
        if refused or refused_here:
            raise _refusal(refused + refused_here)
        if writes:
            released, dropped = selected_releases(
                writes, [read_json(p, "record") for p in published]
            )
            with Staging(to) as staging:
                for path in dropped:  # its record is replaced below, without "released"
                    staging.remove(path)
                for run, record, text, history in writes:
                    if any(run is w[0] for w in released):
                        stage_release(staging, run, record, run.path("model", results))
                        text = _record_text(record, f"{run.dataset}/{run.stem}")
                    # A run's history, record and weights: staged, and placed, in one call.
                    if history is not None:  # a baseline has no training history
                        staging.add_bytes(run.path("record_history", ""), history.encode())
                    staging.add_bytes(run.path("record", ""), text.encode("utf-8"))
                staging.commit()
    return outcome
