"""Released weights: the kept model of the runs the table selects, beside their records, so that
every reproduced number can be checked by evaluation alone (``reproduction/weights/``).

A released file is the run's kept ``.keras`` model without its optimizer state (a third of the
size), loadable by ``keras.saving.load_model`` once ``lstmfcn_bench`` is imported. Every
record carries ``kept_weights_sha256``, a digest of its kept model's layer weights
(:func:`weights_digest`: unlike the file's bytes, which hold the date it was saved, the same
weights always give the same digest, with or without the optimizer's state); a released
record also names its file and that file's sha256 under ``released``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..atomic import sha256_file
from ..baselines import is_baseline
from ..errors import LstmfcnError
from ..runs import RUN_FILES, Run, run_of, stem

#: The folder of released files under a records folder (``RUN_FILES["released"]``).
WEIGHTS = Path(RUN_FILES["released"]).parts[0]
#: The seeds whose selected runs are released (the repository grows ~2-7 MB per dataset-seed).
#: Only Keras models are released: a baseline retrains in seconds, and its record names its
#: joblib file's sha256 (``kept_model_sha256``).
RELEASED_SEEDS = (0,)


def weights_digest(path: Path) -> str:
    """sha256 over the layer weights a ``.keras`` file holds (each one's name in the file, shape
    and float32 bytes, in name order), read without Keras; the optimizer's state, which a
    kept model holds and a released one does not, is left out."""
    import h5py

    try:
        with zipfile.ZipFile(path) as z:
            data = io.BytesIO(z.read("model.weights.h5"))
        with h5py.File(data, "r") as f:
            found: list[tuple[str, np.ndarray]] = []
            f["layers"].visititems(
                lambda name, obj: (
                    found.append((name, np.asarray(obj, dtype=np.float32)))
                    if isinstance(obj, h5py.Dataset)
                    else None
                )
            )
    except (OSError, KeyError, ValueError, TypeError, zlib.error, zipfile.BadZipFile) as e:
        raise LstmfcnError(f"{path}: not a Keras model file with weights ({e})") from None
    h = hashlib.sha256()
    for name, array in sorted(found, key=lambda item: item[0]):
        h.update(f"{name} {array.shape}\n".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def write_released(model_path: Path, out: Path) -> str:
    """Save the kept model at ``model_path`` without optimizer state to ``out`` (which must not
    be in place yet: publishing stages it) and check that it holds the same weights; returns
    the weights digest."""
    from ..models.checkpoint import load_checkpoint

    digest = weights_digest(model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    load_checkpoint(model_path).save(out)  # loaded uncompiled: no optimizer to save
    if weights_digest(out) != digest:
        raise LstmfcnError(f"{out}: the saved copy of {model_path} holds other weights")
    return digest


def selected_releases(writes: list[tuple], published: list[dict]) -> tuple[list[tuple], list[str]]:
    """The runs of ``writes`` (``(run, record, ...)`` tuples) to release: per dataset, model
    and released seed, the run of least training loss, fewer cells on a tie (the table's
    selection), among these and the ``published`` records of the same group that they do
    not replace; a group whose selected run is already published releases nothing new. Also
    the released files that go (as their records name them): released, their records replaced
    by ``writes``, and no longer selected (a rerun of the seed's three cells whose least loss
    moved to other cells).

    A publish that would move a group's release to other cells while a record it keeps is
    the released one, or to a record it keeps from a released one it replaces (a rerun of some
    of the cells only), is refused: the table would select a run whose file is not released,
    or one whose record disagrees with the file."""
    groups: dict[tuple, list[tuple[tuple | None, dict]]] = {}
    for w in writes:
        run, record = w[:2]
        if run.seed in RELEASED_SEEDS and not is_baseline(run.model):  # Keras models only
            groups.setdefault((run.dataset, run.model, run.seed), []).append((w, record))
    new_cells = {key: {w[0].cells for w, _ in group} for key, group in groups.items()}
    kept_release: dict[tuple, set] = {}  # released cells whose records this publish keeps
    replaced_release: dict[tuple, dict] = {}  # ... and whose it replaces: cells -> file
    for r in published:
        key = (r.get("dataset"), r.get("model"), r.get("seed"))
        if key not in groups:
            continue
        replaced = r.get("cells") in new_cells[key]
        if r.get("released") and replaced:
            replaced_release.setdefault(key, {})[r.get("cells")] = r["released"]["path"]
        elif r.get("released"):
            kept_release.setdefault(key, set()).add(r.get("cells"))
        if not replaced:
            groups[key].append((None, r))
    chosen, dropped = [], []
    for key, group in groups.items():
        w, record = min(group, key=lambda wr: (wr[1]["train_loss"], wr[1]["cells"]))
        moved = kept_release.get(key, set()) - {record["cells"]}
        if w is None and replaced_release.get(key):  # selects a kept record never released
            moved = set(replaced_release[key])
        if moved:
            raise LstmfcnError(
                f"{key[0]} {key[1]} seed {key[2]}: this publish would select cells "
                f"{record['cells']} where cells {sorted(moved)[0]} are released; remove that "
                "released file and its record's 'released' entry first, or publish the seed's "
                "three cells together"
            )
        dropped += [
            path
            for cells, path in sorted(replaced_release.get(key, {}).items())
            if cells != record["cells"]
        ]
        chosen.append(w)
    return [w for w in chosen if w is not None], dropped


def stage_release(staging, run, record: dict, model_path: Path) -> None:
    """Stage the released copy of ``run``'s kept model in ``staging`` and name it, with its
    sha256 and size, in ``record`` (under ``released``)."""
    rel = run.path("released", "")
    out = staging.add_written(rel, lambda path: write_released(model_path, path))
    record["released"] = {
        "path": rel.as_posix(),
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
    }


def released_runs(records: Path, datasets, models, seeds) -> list[Run]:
    """The released runs of ``datasets`` × ``models`` × ``seeds`` under a records folder (one
    per dataset, model and released seed at most: the run the table selects), in that order;
    each checked to have its file."""
    from .records import read_json

    found = []
    for dataset in datasets:
        for model in models:
            for seed in seeds:
                folder = Run(dataset, model, 0, seed).path("record", records).parent
                for path in sorted(folder.glob(f"{stem(model, '*', seed)}.json")):
                    if read_json(path, "record").get("released"):
                        run = run_of(path)
                        if not run.path("released", records).is_file():
                            raise LstmfcnError(
                                f"{path} names a released file that is missing: "
                                f"{run.path('released', records)}"
                            )
                        found.append(run)
    return found


def released_run(model: str, dataset: str, seed: int, records: Path) -> tuple[dict, object, list]:
    """The released run of ``model`` on ``dataset`` for ``seed`` in a records folder: its
    record, its model (loaded once checked to hold the weights the record names) and its
    thinned history (one dict per kept epoch)."""
    import csv

    from ..data.registry import canonical_name
    from ..models.checkpoint import load_checkpoint
    from .records import read_json

    found = released_runs(records, [canonical_name(dataset)], [model], [seed])
    if len(found) != 1:
        raise LstmfcnError(
            f"no released {model} model of {dataset} seed {seed} under {records} "
            "(reproduction/weights/ holds the selected seed-0 runs of published datasets)"
        )
    record_path, path = found[0].path("record", records), found[0].path("released", records)
    record = read_json(record_path, "record")
    if weights_digest(path) != record.get("kept_weights_sha256"):
        raise LstmfcnError(f"{path} does not hold the weights {record_path} names")
    model_ = load_checkpoint(path)
    try:
        with open(found[0].path("record_history", records), newline="") as f:
            history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, ValueError) as e:
        raise LstmfcnError(f"{record_path}: its history cannot be read ({e})") from None
    return record, model_, history
