"""Pack the kept models the table selects into $OUT, for a lent GPU session's records.

`$OUT` brings back at most 8 files of 16 MiB, so a lent session cannot return every checkpoint.
The released weights need only the model the table selects per dataset, model and seed (lowest
training loss over the cells, fewer cells on a tie) and only its weights: this loads each one
without its optimizer state (a third of the file), saves it again, and packs the copies into
`--out` (a tar, `results/models/<Dataset>/<run>.keras` inside), seed 0 first, until `--mib` is
full. Back home, unpack it beside the records the same session published.

    python3 bench/gpu_kept.py --records results/published --models results/models \\
        --out "$OUT/kept.tar"
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path


def selected(records: Path) -> list[tuple[int, str, str]]:
    """(seed, dataset, run stem) of the run the table selects per dataset, model and seed."""
    best: dict[tuple[str, str, int], tuple[float, int, str]] = {}
    for path in sorted(records.glob("runs/*/*.json")):
        r = json.loads(path.read_text())
        key = (r["dataset"], r["model"], int(r["seed"]))
        candidate = (float(r["train_loss"]), int(r["cells"]), path.stem)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    return sorted((seed, ds, stem) for (ds, _, seed), (_, _, stem) in best.items())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=Path, required=True, help="a published records folder")
    p.add_argument("--models", type=Path, required=True, help="the run's results/models")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--mib", type=float, default=15.5)
    args = p.parse_args(argv)

    import keras

    import lstmfcn_bench  # noqa: F401  (registers the custom layers load_model needs)

    packed, total = 0, 0
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(args.out, "w") as tar:
        for seed, dataset, stem in selected(args.records):
            source = args.models / dataset / f"{stem}.keras"
            if not source.is_file():
                print(f"{source}: missing, not packed", file=sys.stderr)
                continue
            copy = Path(tmp) / f"{dataset}_{stem}.keras"
            keras.saving.load_model(source, compile=False).save(copy)
            size = copy.stat().st_size
            if total + size > args.mib * 2**20:
                print(f"full at {packed} models ({total / 2**20:.1f} MiB); seed {seed} onward left")
                break
            tar.add(copy, arcname=f"results/models/{dataset}/{stem}.keras")
            packed, total = packed + 1, total + size
    print(f"{packed} kept models, {total / 2**20:.1f} MiB -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
