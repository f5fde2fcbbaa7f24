"""The `lstmfcn` command line. Each subcommand is a thin shell over one package function;
user-facing errors print as one line (no traceback) and exit with status 2."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import stat
import sys
from pathlib import Path

from . import settings
from .arguments import build_parser
from .atomic import check_writable
from .errors import ConfigError, LstmfcnError


def cmd_datasets(args: argparse.Namespace) -> None:
    from .data import registry, splits

    names = registry.preset(args.preset)
    print(
        f"{'name':<32} {'2015 name':<30} {'type':<10} {'train':>6} {'test':>6} "
        f"{'classes':>7} {'length':>8}"
    )
    for name in names:
        i = registry.registry()[name]
        old = registry.name_2015(name) or "-"
        mark = " *" if name in splits.EXCHANGED_SINCE_2015 else ""
        print(
            f"{name:<32} {old:<30} {i.type:<10} {i.n_train:>6} {i.n_test:>6} "
            f"{i.n_classes:>7} {i.length_label:>8}{mark}"
        )
    if any(name in splits.EXCHANGED_SINCE_2015 for name in names):
        print(
            "* the paper's split (the 2015 archive's) is this one exchanged: the paper's protocol "
            "trains on the test column's series and tests on the train column's"
        )
    print(f"{len(names)} datasets (preset {args.preset}); train/test: the 2018 archive's")


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
    estimates = plan.estimates(model)
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

    from .baselines import is_baseline

    if is_baseline(args.model):
        return _train_baseline(args)
    from .training import TrainConfig
    from .training.console import console
    from .training.engines import train_runs, use_backend

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
        split=args.split,
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
    use_backend(args.engine)  # before Keras is first imported
    from . import runtime
    from .data import splits
    from .data.dataset import load
    from .runs import stem

    dataset = splits.oriented(load(args.name, args.root), base.split)
    runtime.configure(args.threads, deterministic=args.deterministic, tf32=base.tf32)
    outs = [args.out / f"{stem(c.model, c.cells, c.seed)}.keras" for c in configs]
    seeds = ", ".join(str(s) for s in args.seed)
    print(
        f"training {base.model} (cells {base.cells}, seed {seeds}) on {dataset.name}: "
        f"{len(dataset.y_train)} series{splits.describe(dataset)} of length {dataset.length}, "
        f"{dataset.n_classes} classes, "
        f"{base.epochs} epochs, engine {args.engine} -> {', '.join(map(str, outs))}",
        flush=True,
    )
    shown = console(args.log_every)  # a bar on a terminal, the plain lines in a log
    try:
        results = train_runs(
            args.engine, dataset, configs, outs, log=shown, log_every=shown.log_every
        )
    finally:
        shown.close()
    for result in results:
        print(
            f"done: kept epoch {result.best_epoch} (train loss {result.best_loss:.5f}), "
            f"{result.epochs_run} epochs in {result.seconds:.1f}s -> {result.model_path}"
        )


def _train_baseline(args: argparse.Namespace) -> None:
    """``lstmfcn train --model <baseline>``: one fit per seed (baselines.py); the paper's
    training settings do not apply."""
    from .data.dataset import load
    from .runs import Run
    from .training.baseline import build, train_baseline

    if len(set(args.seed)) != len(args.seed):
        raise ConfigError(f"--seed: each seed once, got {args.seed}")
    _check_threads(args.threads)
    check_writable(args.out, "--out", folder=True)
    threads = args.threads or len(os.sched_getaffinity(0))
    build(args.model, args.seed[0], threads)  # its library is there, before data is read
    dataset = load(args.name, args.root)
    for seed in args.seed:
        out = args.out / Run(dataset.name, args.model, 0, seed).path("model", "").name
        print(
            f"training {args.model} (seed {seed}; the paper's epochs and cells do not apply) on "
            f"{dataset.name}: {len(dataset.y_train)} series{_archive_split(dataset.name)} of "
            f"length {dataset.length}, "
            f"{dataset.n_classes} classes -> {out}",
            flush=True,
        )
        info = train_baseline(dataset, args.model, seed, out, threads)
        print(
            f"done: training accuracy {info['train_accuracy']:.4f} in {info['seconds']:.1f}s "
            f"-> {out}"
        )


def _archive_split(name: str) -> str:
    """For a baseline's training line: which series it trains on where the splits differ."""
    from .data import splits

    if name not in splits.EXCHANGED_SINCE_2015:
        return ""
    return " (the archive's training split, as the bake-off's; --split is the paper's models')"


def _check_threads(threads: int | None) -> None:
    if threads is not None:
        settings.check_int("threads", threads, "--threads")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from . import runtime
    from .data.dataset import load
    from .results.evaluation import evaluate, write_metrics
    from .runs import is_baseline_file

    _check_threads(args.threads)
    check_writable(args.out, "--out", folder=False)
    dataset = load(args.dataset, args.root)
    if not is_baseline_file(args.model_path):  # a baseline needs no Keras (seconds of start-up)
        runtime.configure(args.threads)  # full fp32 on GPUs, the job's share of the CPUs
    metrics = evaluate(args.model_path, dataset, args.info, args.allow_other_data, args.threads)
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
    print(f"tables -> {out}/summary.csv, {out}/summary.html, {out}/stats.csv, {out}/today.html")
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


def _as_the_run_saw_it(dataset, model_path: Path):
    """``dataset`` with the split the run of ``model_path`` trained on (its _train.json beside
    it says which, or for a released file, ``weights/D/STEM.keras``, its record
    ``runs/D/STEM.json``), so that a figure's "train" series are the ones it trained on."""
    from .data import splits
    from .results.records import read_json
    from .runs import beside_model, run_of

    config = {}
    info = beside_model(model_path, "info")
    if info.is_file():
        config = read_json(info, "run's _train.json").get("config", {})
    else:
        with contextlib.suppress(ValueError, IndexError):  # a file named after no run
            run, records = run_of(model_path), Path(model_path).parents[2]
            record = run.path("record", records)
            if run.path("released", records) == Path(model_path) and record.is_file():
                config = read_json(record, "record").get("train_config", {})
    if not config and dataset.name in splits.EXCHANGED_SINCE_2015:
        # Either split is plausible here, and the wrong one shows test series as "train".
        raise ConfigError(
            f"{model_path}: no _train.json beside it and no record naming it, so which of "
            f"{dataset.name}'s splits it trained on is unknown (the 2018 archive exchanged "
            "them): draw it from where it was trained, or from reproduction/weights/"
        )
    return splits.oriented(dataset, splits.of_run(config))


def cmd_cam(args: argparse.Namespace) -> None:
    from .data.dataset import load
    from .figures.cam import cam_figure
    from .figures.style import save_figure
    from .models.checkpoint import load_checkpoint

    check_writable(args.out, "--out", folder=False)
    dataset = _as_the_run_saw_it(load(args.dataset, args.root), args.model_path)
    model = load_checkpoint(args.model_path)
    fig = cam_figure(
        model,
        dataset,
        classes=args.classes,
        samples=args.samples,
        split=args.split,
        source=args.model_path,
    )
    _saved("class activation maps", save_figure(fig, args.out))


def cmd_context(args: argparse.Namespace) -> None:
    from .data.dataset import load
    from .figures.context import context_figure, parse_limit
    from .figures.style import save_figure
    from .models.checkpoint import load_checkpoint

    check_writable(args.out, "--out", folder=False)
    limit = parse_limit(args.limit)
    dataset = _as_the_run_saw_it(load(args.dataset, args.root), args.model_path)
    model = load_checkpoint(args.model_path)
    fig = context_figure(
        model, dataset, classwise=args.classwise, limit=limit, source=args.model_path
    )
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


def cmd_status(args: argparse.Namespace) -> None:
    from .plan import make_plan
    from .status_report import report, watch
    from .workflow_config import workflow_config

    if args.watch is not None and not (math.isfinite(args.watch) and args.watch > 0):
        raise ConfigError(f"--watch must be > 0 seconds, got {args.watch}")
    config = workflow_config(args.config)
    plan = source = None
    if config is not None:
        plan = make_plan(config)
        words = f" + --config {' '.join(args.config)}" if args.config else ""
        source = f"plan: config.yaml{words}; {len(plan.datasets)} datasets, {len(plan.runs)} runs"
    if args.watch is None:
        print("\n".join(report(args.results, plan, source)))
    else:
        watch(lambda: report(args.results, plan, source), args.watch)


#: Every subcommand (its arguments: :mod:`lstmfcn_bench.arguments`).
COMMANDS = {
    "datasets": cmd_datasets,
    "plan": cmd_plan,
    "fetch": cmd_fetch,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "aggregate": cmd_aggregate,
    "publish": cmd_publish,
    "cam": cmd_cam,
    "context": cmd_context,
    "curves": cmd_curves,
    "scatter": cmd_scatter,
    "status": cmd_status,
}


def main(argv: list[str] | None = None) -> int:
    from .runtime import share_gpu_memory

    share_gpu_memory()  # every subcommand: figure jobs share the GPU with training jobs
    args = build_parser(__doc__).parse_args(argv)
    try:
        COMMANDS[args.command](args)
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
