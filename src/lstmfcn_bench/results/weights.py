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
from pathlib import Path

import numpy as np

from ..atomic import sha256_file
from ..errors import LstmfcnError

#: Released files, under a records folder: ``weights/{dataset}/{stem}.keras``.
WEIGHTS = "weights"
#: The seeds whose selected runs are released (the repository grows ~2-7 MB per dataset-seed).
RELEASED_SEEDS = (0,)


def released_path(root: Path, dataset: str, stem: str) -> Path:
    return Path(root) / WEIGHTS / dataset / f"{stem}.keras"


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
    except (OSError, KeyError, zipfile.BadZipFile) as e:
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


def selected_releases(writes: list[tuple], published: list[dict]) -> list[tuple]:
    """The runs of ``writes`` (``(run, record, ...)`` tuples) to release: per dataset, model
    and released seed, the run of least training loss, fewer cells on a tie (the table's
    selection), among these and the ``published`` records of the same group that they do
    not replace; a group whose selected run is already published releases nothing new."""
    groups: dict[tuple, list[tuple[tuple | None, dict]]] = {}
    for w in writes:
        run, record = w[:2]
        if run.seed in RELEASED_SEEDS:
            groups.setdefault((run.dataset, run.model, run.seed), []).append((w, record))
    new_cells = {key: {w[0].cells for w, _ in group} for key, group in groups.items()}
    for r in published:
        key = (r.get("dataset"), r.get("model"), r.get("seed"))
        if key in groups and r.get("cells") not in new_cells[key]:
            groups[key].append((None, r))
    chosen = [min(g, key=lambda wr: (wr[1]["train_loss"], wr[1]["cells"])) for g in groups.values()]
    return [w for w, _ in chosen if w is not None]


def stage_release(staging, run, record: dict, model_path: Path) -> None:
    """Stage the released copy of ``run``'s kept model in ``staging`` and name it, with its
    sha256 and size, in ``record`` (under ``released``)."""
    rel = released_path(Path(""), run.dataset, run.stem)
    out = staging.add_written(rel, lambda path: write_released(model_path, path))
    record["released"] = {
        "path": rel.as_posix(),
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
    }
