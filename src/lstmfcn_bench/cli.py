"""The `lstmfcn` command line. Each subcommand is a thin shell over one package function;
user-facing errors print as one line (no traceback) and exit with status 2."""

from __future__ import annotations

import argparse
import math
import os
import stat
import sys
from pathlib import Path

from . import settings
from .atomic import check_writable
from .errors import ConfigError, LstmfcnError


def cmd_datasets(args: argparse.Namespace) -> None:
    from .data import registry

    names = registry.preset(args.preset)
    print(
        f"{'name':<32} {'2015 name':<30} {'type':<10} {'train':>6} {'test':>6} "
        f"{'classes':>7} {'length':>8}"
    )
    for name in names:
        i = registry.registry()[name]
        old = registry.name_2015(name) or "-"
        print(
            f"{name:<32} {old:<30} {i.type:<10} {i.n_train:>6} {i.n_test:>6} "
            f"{i.n_classes:>7} {i.length_label:>8}"
        )
    print(f"{len(names)} datasets (preset {args.preset})")


def cmd_plan(args: argparse.Namespace) -> None:
    from . import cost
    from .plan import make_plan
    from .results.records import published_datasets

    config = {"preset": args.preset, "datasets": args.datasets, "epochs": args.epochs}
    if args.seeds is not None:
        if args.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
        config["seeds"] = list(range(args.seeds))
    if args.budget_hours is not None and not (
        math.isfinite(args.budget_hours) and args.budget_hours > 0
    ):
        raise ConfigError(f"--budget-hours must be > 0, got {args.budget_hours}")
    plan = make_plan(config)
    excluded = {}
    if args.source is not None:
        present = cost.available(plan.datasets, args.source)
        excluded.update({d: "not available" for d, ok in present.items() if not ok})
    if args.skip_published is not None:
        try:
            done = published_datasets(plan.runs, plan.train, args.skip_published)
        except LstmfcnError as e:
            raise ConfigError(f"--skip-published {e}") from None
        excluded.update({d: "published" for d in done})
    model = cost.DEFAULT
    if args.calibrate:
        print(
            f"calibrating: a few epochs of real training at {len(cost.CALIBRATION_SIZES)} "
            "sizes here ...",
            flush=True,
        )
        model = cost.calibrate(log=lambda m: print(m, flush=True))
    estimates = cost.ordered(
        plan.datasets,
        epochs={d: t["epochs"] for d, t in plan.train.items()},
        batch={d: t["batch_size"] for d, t in plan.train.items()},
        runs=len(plan.models) * len(plan.cells) * len(plan.seeds),
        model=model,
    )
    print(
        f"preset {args.preset}: {len(plan.models)} models x cells "
        f"{'/'.join(map(str, plan.cells))} x {len(plan.seeds)} seed(s) per dataset, cheapest first"
    )
    for line in cost.table(estimates, model, budget_hours=args.budget_hours, excluded=excluded):
        print(line)


def cmd_fetch(args: argparse.Namespace) -> None:
    from .data.dataset import load, prepare

    for name in args.names:
        folder = prepare(
            name,
            args.root,
            source=args.source,
            cache_dir=args.cache,
            normalise=args.normalise,
            missing=args.missing,
            sha256=args.sha256,
            progress=not args.quiet,
            password=args.password,
        )
        ds = load(folder.name, args.root)
        m = ds.meta
        print(
            f"{ds.name}: {m['n_train']} train / {m['n_test']} test, length {ds.length}, "
            f"{ds.n_classes} classes, {m.get('n_missing_train', 0) + m.get('n_missing_test', 0)} "
            f"missing values filled -> {folder}"
        )
        for problem in m.get("registry_mismatch", []):
            print(f"  warning: {problem}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> None:
    import dataclasses

    from .training import TrainConfig

    base = TrainConfig(
        model=args.model,
        cells=args.cells,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed[0],
        plateau_patience=args.patience,
        plateau_min_delta=args.min_delta,
        shuffle=not args.no_shuffle,
        checkpoint_every=args.checkpoint_every,
        tf32=args.tf32,
    )
    configs = [dataclasses.replace(base, seed=s) for s in args.seed]
    for config in configs:
        config.validate()  # before anything is read or written
    if len(set(args.seed)) != len(args.seed):
        raise ConfigError(f"--seed: each seed once, got {args.seed}")
    _check_threads(args.threads)
    if args.log_every < 0:
        raise ConfigError(f"--log-every must be >= 0 (0: no epoch lines), got {args.log_every}")
    check_writable(args.out, "--out", folder=True)
    if args.engine == "jax":
        import importlib.util

        if importlib.util.find_spec("jax") is None:
            raise ConfigError(
                "--engine jax needs JAX: pip install 'lstmfcn-bench[jax]' "
                "(on a GPU: pip install 'jax[cuda12]')"
            )
        os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is first imported
    from . import runtime
    from .data.dataset import load
    from .runs import stem

    dataset = load(args.name, args.root)
    runtime.configure(args.threads, deterministic=args.deterministic, tf32=base.tf32)
    outs = [args.out / f"{stem(c.model, c.cells, c.seed)}.keras" for c in configs]
    seeds = ", ".join(str(s) for s in args.seed)
    print(
        f"training {base.model} (cells {base.cells}, seed {seeds}) on {dataset.name}: "
        f"{len(dataset.y_train)} series of length {dataset.length}, {dataset.n_classes} classes, "
        f"{base.epochs} epochs, engine {args.engine} -> {', '.join(map(str, outs))}",
        flush=True,
    )
    say = lambda m: print(m, flush=True)  # noqa: E731
    if args.engine == "jax":
        from .training.jax_engine import train_group

        results = train_group(dataset, configs, outs, log=say, log_every=args.log_every)
    else:
        from .training import train

        results = [
            train(dataset, c, o, log=say, log_every=args.log_every)
            for c, o in zip(configs, outs, strict=True)
        ]
    for result in results:
        print(
            f"done: kept epoch {result.best_epoch} (train loss {result.best_loss:.5f}), "
            f"{result.epochs_run} epochs in {result.seconds:.1f}s -> {result.model_path}"
        )


def _check_threads(threads: int | None) -> None:
    if threads is not None:
        settings.check_int("threads", threads, "--threads")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from . import runtime
    from .data.dataset import load
    from .results.evaluation import evaluate, write_metrics

    _check_threads(args.threads)
    check_writable(args.out, "--out", folder=False)
    dataset = load(args.dataset, args.root)
    runtime.configure(args.threads)  # full fp32 on GPUs, the job's share of the CPUs
    metrics = evaluate(args.model_path, dataset, args.info, args.allow_other_data)
    write_metrics(metrics, args.out)
    print(
        f"{dataset.name}: test accuracy {metrics['test_accuracy']:.4f} "
        f"({metrics['n_test']} series) -> {args.out}"
    )


def cmd_aggregate(args: argparse.Namespace) -> None:
    from .aggregate import aggregate, build_table
    from .results.readme_block import check_readme, read_reasons, status_block, write_readme_block
    from .results.records import table_dir
    from .results.summary import headline

    folder = args.metrics[0] if len(args.metrics) == 1 and args.metrics[0].is_dir() else None
    if folder is None and args.readme:
        raise ConfigError("--readme needs a reproduction folder (lstmfcn aggregate DIR/)")
    if args.readme:  # before any table file is written: a README the block cannot go in
        check_readme(args.readme)
        check_writable(args.readme, "--readme", folder=False)
        read_reasons(folder)
    out = args.out or (table_dir(folder) if folder else Path("results/tables"))
    check_writable(out, "--out", folder=True)
    # A reproduction folder: its records -> its table (and the README block).
    summary = build_table(folder, out) if folder else aggregate(args.metrics, out, args.benchmarks)
    for model, h in headline(summary).items():
        print(f"{model}: {h}")
    print(f"tables -> {out}/summary.csv, {out}/summary.html, {out}/stats.csv")
    if args.readme:
        changed = write_readme_block(args.readme, status_block(folder))
        print(f"{args.readme}: status block {'rewritten' if changed else 'already current'}")


def cmd_publish(args: argparse.Namespace) -> None:
    from .results.publish import publish

    check_writable(args.to, "--to", folder=True)
    outcome = publish(args.results, args.to, args.replace, args.any_protocol)
    for line in outcome["skipped"]:
        print(f"lstmfcn publish: warning: {line}", file=sys.stderr)
    for what in ("added", "replaced", "unchanged", "waiting"):
        print(
            f"{what}: {len(outcome[what])}"
            + (f" ({', '.join(outcome[what])})" if outcome[what] else "")
        )
    for name in outcome["dirty"]:
        print(f"marked: {name} was trained from a tree with uncommitted changes or no commit")
    print(f"records -> {args.to}/runs; rebuild the table: lstmfcn aggregate {args.to}/")


def _saved(kind: str, paths) -> None:
    png, svg = paths
    print(f"{kind} -> {png}, {svg}")


def cmd_cam(args: argparse.Namespace) -> None:
    from .data.dataset import load
    from .figures.cam import cam_figure
    from .figures.style import save_figure
    from .models.checkpoint import check_model_fits, load_checkpoint

    check_writable(args.out, "--out", folder=False)
    dataset = load(args.dataset, args.root)
    model = load_checkpoint(args.model_path)
    check_model_fits(model, dataset, args.model_path)
    fig = cam_figure(model, dataset, classes=args.classes, samples=args.samples, split=args.split)
    _saved("class activation maps", save_figure(fig, args.out))


def cmd_context(args: argparse.Namespace) -> None:
    from .data.dataset import load
    from .figures.context import context_figure, parse_limit
    from .figures.style import save_figure
    from .models.attention import find_attention_layer
    from .models.checkpoint import check_model_fits, load_checkpoint

    check_writable(args.out, "--out", folder=False)
    limit = parse_limit(args.limit)
    dataset = load(args.dataset, args.root)
    model = load_checkpoint(args.model_path)
    try:
        find_attention_layer(model)
    except LstmfcnError:
        raise LstmfcnError(
            f"{args.model_path} has no attention LSTM (it is an LSTM-FCN): the context figure "
            "needs an ALSTM-FCN checkpoint"
        ) from None
    check_model_fits(model, dataset, args.model_path)
    fig = context_figure(model, dataset, classwise=args.classwise, limit=limit)
    _saved("context", save_figure(fig, args.out))


def cmd_curves(args: argparse.Namespace) -> None:
    from .figures.curves import curves_figure
    from .figures.style import save_figure

    check_writable(args.out, "--out", folder=False)
    _saved("training curves", save_figure(curves_figure(args.history, args.info), args.out))


def cmd_scatter(args: argparse.Namespace) -> None:
    from .figures.scatter import scatter_figure
    from .figures.style import save_figure

    check_writable(args.out, "--out", folder=False)
    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise ConfigError(f"--threshold must be >= 0 points, got {args.threshold}")
    fig = scatter_figure(args.summary, threshold=args.threshold / 100)
    _saved("accuracy scatter", save_figure(fig, args.out))


def _add_figure_parsers(sub) -> None:
    """The figure subcommands: each writes FIG.png and FIG.svg beside it."""
    from .data.dataset import DEFAULT_ROOT

    c = sub.add_parser("cam", help="class activation maps of a checkpoint, one panel per class")
    c.add_argument("model_path", metavar="MODEL.keras", type=Path)
    c.add_argument("--dataset", required=True)
    c.add_argument("--out", type=Path, required=True, help="FIG.png (FIG.svg is written too)")
    c.add_argument(
        "--classes", nargs="+", default=None, metavar="LABEL", help="class labels (default: all)"
    )
    c.add_argument("--samples", type=int, default=1, help="series drawn per class (default 1)")
    c.add_argument("--split", default="train", choices=("train", "test"))
    c.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="prepared datasets")
    c.set_defaults(func=cmd_cam)

    x = sub.add_parser("context", help="attention weights and context of an ALSTM-FCN")
    x.add_argument("model_path", metavar="MODEL.keras", type=Path)
    x.add_argument("--dataset", required=True)
    x.add_argument("--out", type=Path, required=True, help="FIG.png (FIG.svg is written too)")
    x.add_argument("--classwise", action="store_true", help="one row of panels per class")
    x.add_argument(
        "--limit",
        default="1",
        metavar="N|all",
        help="samples per class (--classwise) or per split; 'all' draws every sample (default 1)",
    )
    x.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="prepared datasets")
    x.set_defaults(func=cmd_context)

    u = sub.add_parser("curves", help="training curves of one run from its history CSV")
    u.add_argument("history", metavar="HISTORY.csv", type=Path)
    u.add_argument("--out", type=Path, required=True, help="FIG.png (FIG.svg is written too)")
    u.add_argument(
        "--info",
        type=Path,
        default=None,
        help="the run's _train.json (default: next to the history) for the kept epoch",
    )
    u.set_defaults(func=cmd_curves)

    s = sub.add_parser("scatter", help="our selected accuracy against the published one")
    s.add_argument("summary", metavar="SUMMARY.csv", type=Path)
    s.add_argument("--out", type=Path, required=True, help="FIG.png (FIG.svg is written too)")
    s.add_argument(
        "--threshold",
        type=float,
        default=5.0,
        help="name the datasets whose |ours - published| exceeds this many points (default 5)",
    )
    s.set_defaults(func=cmd_scatter)


def build_parser() -> argparse.ArgumentParser:
    from .data.dataset import DEFAULT_ROOT
    from .data.preprocess import MISSING, NORMALISE
    from .data.registry import PRESETS
    from .runs import MODELS

    p = argparse.ArgumentParser(prog="lstmfcn", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("datasets", help="list the UCR datasets of a preset")
    d.add_argument("--preset", default="ucr128", choices=PRESETS)
    d.set_defaults(func=cmd_datasets)

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
    n.set_defaults(func=cmd_plan)

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
    f.set_defaults(func=cmd_fetch)

    t = sub.add_parser("train", help="train one run with the paper's protocol (resumable)")
    t.add_argument("name", metavar="NAME", help="a fetched dataset")
    t.add_argument("--model", default=MODELS[0], choices=MODELS)
    t.add_argument("--cells", type=int, default=8, help="LSTM cells (paper: 8, 64, 128)")
    t.add_argument("--epochs", type=int, default=2000)
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
    t.add_argument("--batch-size", type=int, default=settings.default("batch_size"))
    t.add_argument(
        "--patience",
        type=int,
        default=settings.default("patience"),
        help="ReduceLROnPlateau patience",
    )
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
        "--checkpoint-every",
        type=int,
        default=settings.default("checkpoint_every"),
        help="epochs between resume states (also written on SIGTERM)",
    )
    t.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for MODEL_cC_sS.keras, its _history.csv and _train.json",
    )
    t.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="prepared datasets")
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
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on the test split")
    e.add_argument("model_path", metavar="MODEL.keras", type=Path)
    e.add_argument("--dataset", required=True)
    e.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="prepared datasets")
    e.add_argument("--out", type=Path, required=True, help="metrics JSON to write")
    e.add_argument(
        "--info",
        type=Path,
        default=None,
        help="the run's _train.json (default: the one beside MODEL.keras)",
    )
    e.add_argument(
        "--allow-other-data",
        action="store_true",
        help="evaluate a model on data other than its training run's (transfer experiments; "
        "recorded in the metrics as trained_on)",
    )
    e.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    e.set_defaults(func=cmd_evaluate)

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
    a.set_defaults(func=cmd_aggregate)

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
    u.set_defaults(func=cmd_publish)

    _add_figure_parsers(sub)

    return p


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ start-up chatter buries the progress lines; warnings still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .runtime import share_gpu_memory

    share_gpu_memory()  # every subcommand: figure jobs share the GPU with training jobs
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is handled below, not at exit
    except LstmfcnError as e:
        print(f"lstmfcn {args.command}: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        print(f"lstmfcn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lstmfcn plan | head`: the reader has what it wanted
        if not stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode):
            raise  # not our stdout's pipe (a socket, a pipe to a child): a real error
        # Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell tool that the pipe stopped
    return 0


if __name__ == "__main__":
    sys.exit(main())
