"""Compare two results/ trees of the workflow, e.g. before and after a refactor.

    python scripts/compare_results.py OLD/results NEW/results

Every output file is compared byte for byte, except what cannot repeat: timings and memory (the
`seconds` and `max_rss_mb` fields and columns, and timing.html, which holds only those), the
demo zip's absolute path (`source`), the commit a run was trained from (`code`), the .keras
files (their zip entries carry dates), logs and benchmarks. SVGs are compared with matplotlib's hashed ids
numbered, as figures.style writes them. Prints the files that differ; exit 1 if any does.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from lstmfcn_bench.figures.style import numbered_ids

VARYING = {
    "seconds",
    "eval_seconds",
    "train_seconds",
    "seconds_per_epoch_median",
    "max_rss_mb",
    "source",
    "code",  # the commit a run was trained from: before and after a refactor differ by design
}
SKIPPED = ("logs", "benchmarks", "cache")


def _json(data: bytes):
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in VARYING}
        return [strip(v) for v in o] if isinstance(o, list) else o

    return strip(json.loads(data))


def _csv(data: bytes) -> list[dict]:
    rows = csv.DictReader(io.StringIO(data.decode()))
    return [{k: v for k, v in r.items() if k not in VARYING} for r in rows]


def same(path: Path, a: bytes, b: bytes) -> bool:
    if a == b:
        return True
    reader = {".json": _json, ".csv": _csv, ".svg": numbered_ids}.get(path.suffix)
    return reader is not None and reader(a) == reader(b)


def main(old: Path, new: Path) -> int:
    different = []
    for path in sorted(p for p in old.rglob("*") if p.is_file()):
        rel = path.relative_to(old)
        if rel.parts[0] in SKIPPED or path.suffix == ".keras" or path.name.startswith("."):
            continue
        if rel.name == "timing.html":  # wall times only (timing.csv is compared without them)
            continue
        other = new / rel
        if not other.is_file() or not same(path, path.read_bytes(), other.read_bytes()):
            different.append(str(rel))
    for rel in different:
        print(f"differs: {rel}")
    print(f"{len(different)} file(s) differ")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
