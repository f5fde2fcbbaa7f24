"""The `lstmfcn` command line: every subcommand and its arguments, grouped by stage (the
commands themselves are in :mod:`lstmfcn_bench.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import settings
from .data import splits
from .data.dataset import DEFAULT_ROOT
from .data.preprocess import MISSING, NORMALISE
from .data.registry import PRESETS
from .runs import MODELS, RESULTS
from .training.config import PAPER_EPOCHS


def _setting(parser: argparse.ArgumentParser, key: str, help: str | None = None) -> None:
    """``--key`` of an integer workflow setting, its default from the config schema."""
    parser.add_argument(
        f"--{key.replace('_', '-')}", type=int, default=settings.default(key), help=help
    )


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="prepared datasets")


def _checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_path", metavar="MODEL.keras", type=Path)
    p.add_argument("--dataset", required=True)


def _figure_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="FIG.png (FIG.svg is written too)")


def _add_planning(sub) -> None:
    """What a preset holds and what it costs."""
    d = sub.add_parser("datasets", help="list the UCR datasets of a preset")
    d.add_argument("--preset", default="ucr128", choices=PRESETS)

    n = sub.add_parser(
        "plan", help="the protocol's cost per dataset, cheapest first, and what fits a budget"
    )
    n.add_argument("--preset", default="ucr85", choices=PRESETS)
    n.add_argument(
        "--datasets", nargs="+", default=None, metavar="NAME", help="instead of the preset's"
    )
    n.add_argument(
        "--seeds", type=int, default=None, metavar="N", help="seeds 0..N-1 (default: the preset's)"
    )
    n.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    n.add_argument(
        "--calibrate",
        action="store_true",
        help="measure this machine first (seconds of real training) instead of the default "
        "figures of a 2-core CPU",
    )
    n.add_argument(
        "--budget-hours",
        type=float,
        default=None,
        metavar="H",
        help="mark the cheapest datasets that fit H hours (as the config's budget_hours plans)",
    )
    n.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="DIR",
        help="a local folder source: datasets it lacks are 'not available', out of the budget",
    )
    n.add_argument(
        "--skip-published",
        type=Path,
        default=None,
        metavar="DIR",
        help="a reproduction folder (reproduction): datasets whose every run has a record there "
        "are 'published', out of the budget (as the config's skip_published plans)",
    )


def _add_fetch(sub) -> None:
    """Download, verify and prepare."""
    f = sub.add_parser("fetch", help="download, verify and prepare datasets")
    f.add_argument("names", nargs="+", metavar="NAME", help="2018 or 2015 UCR names")
    f.add_argument(
        "--source",
        default=None,
        help="UCRArchive_2018.zip URL/path, base URL of per-dataset zips, or a "
        "local directory (default: embedded demo data, else the "
        "timeseriesclassification.com mirror)",
    )
    f.add_argument(
        "--root",
        type=Path,
        default=DEFAULT_ROOT,
        help=f"where prepared datasets go (default: {DEFAULT_ROOT.as_posix()})",
    )
    f.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="download cache (default: $LSTMFCN_CACHE or ~/.cache/lstmfcn-bench)",
    )
    f.add_argument("--normalise", default=settings.default("normalise"), choices=NORMALISE)
    f.add_argument("--missing", default=settings.default("missing"), choices=MISSING)
    f.add_argument("--sha256", default=None, help="expected sha256 of the downloaded archive")
    f.add_argument(
        "--password", default=None, help="zip password (default: the UCR 2018 archive's)"
    )
    f.add_argument("--quiet", action="store_true", help="no download progress")


def _add_train(sub) -> None:
    """One run (or one engine group) of the protocol."""
    t = sub.add_parser("train", help="train one run with the paper's protocol (resumable)")
    t.add_argument("name", metavar="NAME", help="a fetched dataset")
    t.add_argument("--model", default=MODELS[0], choices=MODELS)
    t.add_argument("--cells", type=int, default=8, help="LSTM cells (paper: 8, 64, 128)")
    t.add_argument("--epochs", type=int, default=PAPER_EPOCHS)
    t.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="one or more seeds (the jax engine trains them as one group)",
    )
    t.add_argument(
        "--engine",
        default=settings.default("engine"),
        choices=settings.choices("engine"),
        help="keras: one run after another on any backend; jax: the seeds as one compiled "
        "JAX program (sets KERAS_BACKEND=jax unless set)",
    )
    _setting(t, "batch_size")
    _setting(t, "patience", "ReduceLROnPlateau patience")
    t.add_argument(
        "--min-delta",
        type=float,
        default=1e-4,
        help="loss improvement that resets the plateau counter (Keras default)",
    )
    t.add_argument(
        "--no-shuffle",
        action="store_true",
        help="no dimension shuffle: the LSTM runs over T timesteps",
    )
    t.add_argument(
        "--split",
        default=splits.PAPER,
        choices=splits.SPLITS,
        help=f"{splits.PAPER} (default, the paper's): train and test as in the 2015 archive, i.e. "
        f"the 2018 files exchanged for the {len(splits.EXCHANGED_SINCE_2015)} datasets where they "
        f"differ; {splits.ARCHIVE}: the archive's files as they are (a baseline, such as "
        "minirocket, always trains on these, as the bake-off did)",
    )
    _setting(t, "checkpoint_every", "epochs between resume states (also written on SIGTERM)")
    t.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for MODEL_cC_sS.keras, its _history.csv and _train.json",
    )
    _root(t)
    t.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    t.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic ops (bit-identical reruns on CPU; may be slower)",
    )
    t.add_argument(
        "--tf32",
        action="store_true",
        help="allow TF32 tensor-core maths on GPUs that have it (faster; default: full fp32)",
    )
    t.add_argument("--log-every", type=int, default=1, help="print one line every N epochs")


def _add_results(sub) -> None:
    """Evaluation, the tables and the committed records."""
    e = sub.add_parser("evaluate", help="evaluate a checkpoint on the test split")
    _checkpoint(e)
    _root(e)
    e.add_argument("--out", type=Path, required=True, help="metrics JSON to write")
    e.add_argument(
        "--info",
        type=Path,
        default=None,
        help="the run's _train.json (default: the one beside MODEL.keras), or its committed "
        "record (reproduction/runs/...json) for a released model",
    )
    e.add_argument(
        "--allow-other-data",
        action="store_true",
        help="evaluate a model on data other than its training run's (transfer experiments; "
        "recorded in the metrics as trained_on)",
    )
    e.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")

    a = sub.add_parser(
        "aggregate",
        help="results table and statistics from metrics JSONs, or from a reproduction folder",
    )
    a.add_argument(
        "metrics",
        nargs="+",
        type=Path,
        metavar="METRICS.json | DIR",
        help="metrics files, or one reproduction folder (its runs/ records -> its table/)",
    )
    a.add_argument("--out", type=Path, default=None, help="default results/tables, or DIR/table")
    a.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="with DIR: rewrite this README's generated reproduction-status block",
    )
    a.add_argument(
        "--benchmarks",
        type=Path,
        nargs="*",
        default=[],
        metavar="BENCHMARK.tsv",
        help="the training jobs' Snakemake benchmark files (adds memory to timing.csv)",
    )

    u = sub.add_parser(
        "publish", help="copy finished runs' records into the committed reproduction folder"
    )
    u.add_argument("results", metavar="RESULTS_DIR", type=Path, help="a workflow results tree")
    u.add_argument("--to", type=Path, default=Path("reproduction"), help="default reproduction")
    u.add_argument(
        "--replace", action="store_true", help="a rerun replaces a published record of its run"
    )
    u.add_argument(
        "--any-protocol",
        action="store_true",
        help="publish runs whose protocol is not the paper's (the table then says so)",
    )


def _add_figures(sub) -> None:
    """The figure subcommands: each writes FIG.png and FIG.svg beside it."""
    c = sub.add_parser("cam", help="class activation maps of a checkpoint, one panel per class")
    _checkpoint(c)
    _figure_out(c)
    c.add_argument(
        "--classes", nargs="+", default=None, metavar="LABEL", help="class labels (default: all)"
    )
    c.add_argument("--samples", type=int, default=1, help="series drawn per class (default 1)")
    c.add_argument("--split", default="train", choices=("train", "test"))
    _root(c)

    x = sub.add_parser("context", help="attention weights and context of an ALSTM-FCN")
    _checkpoint(x)
    _figure_out(x)
    x.add_argument("--classwise", action="store_true", help="one row of panels per class")
    x.add_argument(
        "--limit",
        default="1",
        metavar="N|all",
        help="samples per class (--classwise) or per split; 'all' draws every sample (default 1)",
    )
    _root(x)

    _from_file(sub, "curves", "training curves of one run from its history CSV", "HISTORY.csv")
    _from_file(sub, "scatter", "our selected accuracy against the published one", "SUMMARY.csv")


#: The option each figure drawn from one file takes besides its output.
_FILE_FIGURE_OPTIONS = {
    "curves": (
        "--info",
        dict(
            type=Path,
            default=None,
            help="the run's _train.json (default: next to the history) for the kept epoch",
        ),
    ),
    "scatter": (
        "--threshold",
        dict(
            type=float,
            default=5.0,
            help="name the datasets whose |ours - published| exceeds this many points (default 5)",
        ),
    ),
}


def _from_file(sub, name: str, help: str, metavar: str) -> None:
    """A figure drawn from one file: its path (named after ``metavar``), its output, and its
    one option."""
    p = sub.add_parser(name, help=help)
    p.add_argument(metavar.split(".")[0].lower(), metavar=metavar, type=Path)
    _figure_out(p)
    option, kwargs = _FILE_FIGURE_OPTIONS[name]
    p.add_argument(option, **kwargs)


def _add_status(sub) -> None:
    """Where the runs of a results tree stand (read from their files only)."""
    s = sub.add_parser(
        "status",
        help="where the runs stand: epochs, speed, runs done per dataset, the plan's ETA",
    )
    s.add_argument(
        "results",
        metavar="RESULTS",
        type=Path,
        nargs="?",
        default=Path(RESULTS),
        help=f"the workflow's results folder (default {RESULTS})",
    )
    s.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=10.0,
        default=None,
        metavar="SECONDS",
        help="redraw every SECONDS (default 10) until Ctrl-C",
    )
    s.add_argument(
        "--config",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="the plan: config.yaml of this folder updated by these words, as snakemake "
        "--config (without config.yaml and words: the runs found in RESULTS)",
    )


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; ``args.command`` names the one given."""
    p = argparse.ArgumentParser(prog="lstmfcn", description=description)
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_planning, _add_fetch, _add_train, _add_results, _add_figures, _add_status):
        add(sub)
    return p
