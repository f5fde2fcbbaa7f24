"""Build .gpu-data/, the reproduction's datasets for a lent GPU, before the session that uses it.

`../shared/ucr2018` (55 of the paper's datasets) sits beside the checkout, and only the checkout
travels to the GPU machine. So this copies the datasets the reproduction still needs, cheapest
first (the plan's cost order), as per-dataset zips (a local-folder source reads `NAME.zip`), into
`.gpu-data/ucr2018/` (git-ignored), until they fill `--mib`. Name `.gpu-data` in the call's
`carry` beside `.whl` (the two and the tree must stay under the call's 64 MiB).

    .venv/bin/python bench/gpu_data.py              # -> .gpu-data/ucr2018/, ~24 MiB
    .venv/bin/python bench/gpu_data.py --list       # only print what would be staged
    .venv/bin/python bench/gpu_data.py --start-at SyntheticControl
                                                    # leave the cheaper ones to the CPU campaign

It prints the `datasets=[...]` to give the workflow (`bash bench/gpu_session.sh all` reads the
list it writes, `.gpu-data/datasets.txt`). A dataset is skipped when `reproduction/` already
holds every run of it (both models, cells 8/64/128, seeds 0-2).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

from lstmfcn_bench import cost
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.runs import stem

REPO = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)


def complete(dataset: str, records: Path, models, cells) -> bool:
    """Whether `records` (a reproduction folder) holds every run of `dataset`."""
    folder = records / "runs" / dataset
    return all(
        (folder / f"{stem(m, c, s)}.json").is_file() for m in models for c in cells for s in SEEDS
    )


def to_stage(source: Path, records: Path) -> list[str]:
    """The ucr85 datasets `source` holds and `records` lacks, cheapest first."""
    plan = make_plan({"preset": "ucr85", "seeds": list(SEEDS)})
    present = cost.available(plan.datasets, source)
    ranked = cost.ordered(
        [d for d in plan.datasets if present[d]],
        runs=len(SEEDS) * len(plan.models) * len(plan.cells),
    )
    return [e.name for e in ranked if not complete(e.name, records, plan.models, plan.cells)]


def split_files(source: Path, name: str) -> list[Path]:
    files = sorted((source / name).glob(f"{name}_T*.tsv"))
    if [f.name for f in files] != [f"{name}_TEST.tsv", f"{name}_TRAIN.tsv"]:
        raise SystemExit(f"{source / name}: expected {name}_TRAIN.tsv and {name}_TEST.tsv")
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", type=Path, default=REPO.parent / "shared" / "ucr2018")
    p.add_argument("--records", type=Path, default=REPO / "reproduction")
    p.add_argument("--out", type=Path, default=REPO / ".gpu-data")
    p.add_argument("--mib", type=float, default=24.0, help="size cap of the zips (MiB)")
    p.add_argument("--list", action="store_true", help="print what would be staged, write nothing")
    p.add_argument(
        "--start-at",
        metavar="DATASET",
        help="skip the datasets cheaper than DATASET (those the CPUs train meanwhile)",
    )
    args = p.parse_args(argv)
    names = to_stage(args.source, args.records)
    if args.start_at:
        if args.start_at not in names:
            raise SystemExit(f"--start-at {args.start_at}: not among the datasets to stage")
        names = names[names.index(args.start_at) :]
    if args.list:
        print(f"{len(names)} datasets to reproduce, cheapest first: {' '.join(names)}")
        return 0
    if args.out.exists():
        shutil.rmtree(args.out)
    folder = args.out / "ucr2018"
    folder.mkdir(parents=True)
    staged, total = [], 0
    for name in names:
        zpath = folder / f"{name}.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for f in split_files(args.source, name):
                z.write(f, f"{name}/{f.name}")
        size = zpath.stat().st_size
        if total + size > args.mib * 2**20:
            zpath.unlink()
            break  # cost order: the next ones are dearer, stop at the first that does not fit
        staged.append(name)
        total += size
    (args.out / "datasets.txt").write_text(",".join(staged) + "\n")
    print(
        f"{len(staged)} of {len(names)} datasets, {total / 2**20:.1f} MiB -> {folder} "
        f"(carry it: carry=['.whl', '.gpu-data'])\ndatasets=[{','.join(staged)}]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
