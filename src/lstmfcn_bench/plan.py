"""The workflow's plan: which runs a config asks for, with every value resolved and checked.

The rules call `make_plan(config)` once at parse time; input functions then look runs up in
plain dicts, so they add no per-job cost. The config is checked against the schema
(:mod:`lstmfcn_bench.settings`, the one home of keys, types, ranges and defaults); presets
supply the defaults of datasets, cells, seeds and epochs; `overrides` change the training
settings of single datasets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import cost, settings
from .baselines import BASELINES, is_baseline
from .data import registry, splits
from .data.fetch_plan import local_folder
from .errors import ConfigError, LstmfcnError
from .results.records import SETTING_AS_RECORDED, published_datasets
from .results.weights import RELEASED_SEEDS, released_runs
from .runs import PAPER_MODELS, Run
from .training.config import PAPER_CELLS, PAPER_EPOCHS, TrainConfig, protocol_differences
from .workflow_config import checked_config

#: Per-preset defaults. `demo` fits ~10 minutes on 2 CPU cores; the others are the paper's.
PRESET_DEFAULTS: dict[str, dict] = {
    "demo": {"epochs": 1000, "cells": [8], "seeds": [0]},
    "ucr85": {"epochs": PAPER_EPOCHS, "cells": list(PAPER_CELLS), "seeds": [0]},
    "ucr128": {"epochs": PAPER_EPOCHS, "cells": list(PAPER_CELLS), "seeds": [0]},
}

#: What evaluation reads of a released run instead of a trained run's files (the record holds
#: the run's _train.json).
_RELEASED_FILES = {"model": "released", "info": "record", "history": "record_history"}

#: Training settings that may differ per dataset (config `overrides: {Name: {...}}`).
TRAIN_KEYS = ("epochs", "batch_size", "patience", "checkpoint_every", "shuffle")


@dataclass
class Plan:
    datasets: list[str]
    models: list[str]
    cells: list[int]
    seeds: list[int]
    train: dict[str, dict]  # dataset -> resolved training settings
    runs: list[Run] = field(default_factory=list)
    gpu: bool = False  # training jobs ask for a `gpu` resource
    tf32: bool = False  # TF32 tensor-core maths allowed in training (else full fp32)
    config: dict = field(default_factory=dict)  # the checked config, defaults filled in
    # dataset -> its rank in cost order, cheapest highest: the rules' `priority`, so that the
    # scheduler starts the cheapest datasets first and a cut-short run has the most datasets.
    start_order: dict[str, int] = field(default_factory=dict)
    # `released: true`: the runs are the released models of this records folder, not trained.
    released_from: Path | None = None
    # The preset's datasets that a local-folder source does not hold: left out of the plan.
    not_in_source: list[str] = field(default_factory=list)

    def priority(self, dataset: str, seed: int | None = None) -> float:
        """Snakemake priority of a job of `dataset` (higher starts first): the dataset's cost
        rank, plus a fraction below 1 that favours the config's earlier seeds (a seed is
        complete, and publishable, once all its cells are), so datasets never interleave."""
        # A target outside the config (a file named on the command line) starts last.
        rank = self.start_order.get(dataset, 0)
        if seed not in self.seeds:
            return rank
        return rank + (len(self.seeds) - 1 - self.seeds.index(seed)) / len(self.seeds)

    def train_flags(self, dataset: str) -> str:
        """The per-dataset flags of `lstmfcn train` in the train rules' ``shuffle`` placeholder:
        ``--no-shuffle`` when the config turns the dimension shuffle off, and ``--split 2015``
        (the CLI's default, written out) on the datasets where the paper's split differs from
        the archive's. Snakemake reruns a finished job when its params change but also when its
        command text does, for every job: one placeholder keeps the text as it was, so a run of
        those 14 trained before the option (whose params said nothing of the split) is stale,
        and no other run is."""
        flags = [] if self.train[dataset]["shuffle"] else ["--no-shuffle"]
        if dataset in splits.EXCHANGED_SINCE_2015:
            flags.append(f"--split {splits.PAPER}")
        return " ".join(flags)

    def batches(self) -> dict[str, int]:
        """Each planned dataset's batch size."""
        return {d: t["batch_size"] for d, t in self.train.items()}

    def estimates(self, model: cost.CostModel = cost.DEFAULT) -> list[cost.Estimate]:
        """The planned datasets' estimated cost of their Keras runs, cheapest first (``model``:
        the default figures or a calibration). A plan of baselines only is still ordered by
        the datasets' sizes, but costs 0 h here: a fit takes seconds."""
        keywords = _cost_keywords(self.train, self.models, self.cells, self.seeds)
        ranked = cost.ordered(self.datasets, model=model, **keywords)
        if all(is_baseline(m) for m in self.models):
            return [replace(e, runs=0, pflop=0.0, hours=0.0) for e in ranked]
        return ranked

    def source_note(self) -> str | None:
        """One line on the preset's datasets the local source does not hold, if any."""
        if not self.not_in_source:
            return None
        missing = self.not_in_source
        # The preset's size, not the plan's: skip_published or a budget may have cut it since.
        total = len(registry.preset(self.config["preset"]))
        return (
            f"source {self.config['source']} holds {total - len(missing)} of the "
            f"{self.config['preset']} preset's {total} datasets; not planned: {', '.join(missing)}"
        )

    def figure_runs(self) -> dict[tuple[str, str], Run]:
        """(dataset, model) -> the run whose model its CAM and context figures draw: the first
        configured cells and seed, or with `released: true` the first seed's released run."""
        if self.released_from is None:
            return {
                (d, m): Run(d, m, self.cells[0], self.seeds[0])
                for d in self.datasets
                for m in self.models
                if not is_baseline(m)  # CAM and context are drawings of the Keras networks
            }
        first: dict[tuple[str, str], Run] = {}
        for run in self.runs:
            first.setdefault((run.dataset, run.model), run)
        return first

    def protocol_line(self) -> str:
        """What the runs of this plan are, in one line (the report's captions say it)."""
        if self.released_from is not None:
            return (
                f"the released models of {self.released_from} (the runs its table selects; "
                "how each was trained is in its record), evaluated here; nothing was trained"
            )
        seeds = ", ".join(map(str, self.seeds))
        if all(is_baseline(m) for m in self.models):
            names = ", ".join(f"{m} ({BASELINES[m].library}'s defaults)" for m in self.models)
            return (
                f"not the paper's models: {names}, seeds {seeds} (the paper's epochs and cells "
                "do not apply)"
            )
        paper, differences = asdict(TrainConfig()), set()
        for settings_ in self.train.values():
            recorded = {
                SETTING_AS_RECORDED[k]: v for k, v in settings_.items() if k in SETTING_AS_RECORDED
            }
            for cells in self.cells:
                differences.update(protocol_differences({**paper, **recorded, "cells": cells}))
        differences.update(self._other_differences())
        if not set(PAPER_CELLS) <= set(self.cells):
            differences.add(
                f"cells {'/'.join(map(str, self.cells))} only (the paper's choice among 8/64/128)"
            )
        epochs = "/".join(map(str, sorted({s["epochs"] for s in self.train.values()})))
        runs = f"{epochs} epochs, cells {'/'.join(map(str, self.cells))}, seeds {seeds}"
        if not differences:
            return f"the paper's protocol ({runs})"
        return f"not the paper's protocol ({runs}: {'; '.join(sorted(differences))})"

    def _other_differences(self) -> set[str]:
        """What the config changes outside the runs' training settings: precision,
        preprocessing, models that are not the paper's."""
        out = set()
        if self.tf32:
            out.add("tf32 (the paper's fp32)")
        for key in ("normalise", "missing"):
            if self.config[key] != settings.default(key):
                out.add(f"{key} {self.config[key]} (the paper's {settings.default(key)})")
        for model in self.models:
            if is_baseline(model):
                out.add(
                    f"model {model} ({BASELINES[model].library}'s defaults; the paper's epochs "
                    "and cells do not apply to it)"
                )
            elif model not in PAPER_MODELS:
                out.add(f"model {model} (not one of the paper's)")
        return out

    def evaluated_file(self, run: Run, kind: str) -> Path:
        """File ``kind`` (model, info or history) of a run as evaluation reads it: the
        trained run's, or a released run's file, record and thinned history."""
        if self.released_from is None:
            return run.path(kind)
        return run.path(_RELEASED_FILES[kind], self.released_from)


def _datasets(names, where: str) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(registry.canonical_name(str(name)))
        except registry.UnknownDatasetError as e:
            raise ConfigError(f"config key {where!r}: {e}") from None
    return list(dict.fromkeys(out))


def _cost_keywords(train: dict[str, dict], models, cells, seeds) -> dict:
    """What :func:`cost.estimate` needs of a plan: each dataset's epochs and batch, and the
    Keras runs per dataset (a baseline costs next to nothing beside one; a plan of baselines
    only is still ordered by the datasets' sizes)."""
    return {
        "epochs": {d: t["epochs"] for d, t in train.items()},
        "batch": {d: t["batch_size"] for d, t in train.items()},
        "runs": max(1, sum(not is_baseline(m) for m in models)) * len(cells) * len(seeds),
    }


def _runs(datasets, models, cells, seeds) -> list[Run]:
    """Datasets × models × cells × seeds; a baseline's runs have cells 0 (it has no LSTM)."""
    return [
        Run(d, m, c, s)
        for d in datasets
        for m in models
        for c in ([0] if is_baseline(m) else cells)
        for s in seeds
    ]


def _check_normalise(normalise: str, datasets: list[str], models: list[str]) -> None:
    """Refuse, before any job, dataset statistics for a Keras model on a dataset whose paper's
    split tests on the archive's training series, which those statistics come from (the
    train job would refuse it after the fetch: splits.oriented)."""
    exchanged = [d for d in datasets if d in splits.EXCHANGED_SINCE_2015]
    if normalise == "dataset" and exchanged and not all(map(is_baseline, models)):
        raise ConfigError(
            f"config key 'normalise': dataset statistics come from the archive's training "
            f"split, which the paper's split tests on for {', '.join(exchanged)}: use "
            "normalise: series (the paper's), or leave those datasets out"
        )


def make_plan(config: dict) -> Plan:
    """Resolve presets and overrides into datasets × models × cells × seeds, or raise
    ConfigError naming the offending key. With `skip_published`, without the datasets whose
    every run already has a committed record. With `budget_hours`, only the cheapest datasets
    whose estimated hours (:mod:`lstmfcn_bench.cost`, default figures) fit, cheapest first.
    Either way the jobs start in cost order (`Plan.priority`). With `released`, the runs are
    the released models of `records` among those asked for, and nothing is trained."""
    config = checked_config(config)
    preset = PRESET_DEFAULTS[config["preset"]]
    if config["released"]:
        _check_released_config(config)

    def pick(key):
        return preset[key] if config[key] is None else config[key]

    datasets = _datasets(config["datasets"] or registry.preset(config["preset"]), "datasets")
    not_in_source = []
    try:
        folder = local_folder(config["source"])
    except ConfigError as e:
        raise ConfigError(f"config key 'source': {e}") from None
    if config["datasets"] is None and folder is not None:
        # A local folder may hold only some of a preset's datasets: plan those it holds (a
        # list given by name is planned whole, budget or not: a missing dataset stops its
        # fetch job with the reason).
        present = cost.available(datasets, folder)
        not_in_source = [d for d in datasets if not present[d]]
        datasets = [d for d in datasets if present[d]]
        if not datasets:
            raise ConfigError(
                f"config key 'source': {config['source']} holds none of the "
                f"{config['preset']} datasets"
            )
    models = list(dict.fromkeys(config["models"]))
    cells, seeds = pick("cells"), pick("seeds")
    base = {key: pick(key) if key in preset else config[key] for key in TRAIN_KEYS}

    overrides = {}
    for name, values in (config["overrides"] or {}).items():
        (canon,) = _datasets([name], "overrides")
        overrides[canon] = values
    train = {d: {**base, **overrides.get(d, {})} for d in datasets}
    cost_keywords = _cost_keywords(train, models, cells, seeds)
    if config["skip_published"] is not None:  # what the committed records already hold
        planned = _runs(datasets, models, cells, seeds)
        try:
            done = published_datasets(planned, train, Path(config["skip_published"]))
        except LstmfcnError as e:
            raise ConfigError(f"config key 'skip_published': {e}") from None
        datasets = [d for d in datasets if d not in done]
        train = {d: train[d] for d in datasets}
        if not datasets:
            raise ConfigError(
                f"config key 'skip_published': {config['skip_published']} already holds every "
                "planned run: nothing left to train"
            )
    if config["budget_hours"] is not None:  # the cheapest that fit, cheapest first
        kept = cost.within_budget(datasets, config["budget_hours"], **cost_keywords)
        datasets = [e.name for e in kept]
        train = {d: train[d] for d in datasets}
    cheapest_first = [e.name for e in cost.ordered(datasets, **cost_keywords)]
    _check_normalise(config["normalise"], cheapest_first, models)  # the datasets kept
    start_order = {d: len(cheapest_first) - i for i, d in enumerate(cheapest_first)}

    runs = _runs(datasets, models, cells, seeds)
    released_from = None
    if config["released"]:
        released_from = Path(config["records"]).expanduser()
        runs = _released(datasets, models, seeds, released_from, config)
        datasets = [d for d in datasets if any(r.dataset == d for r in runs)]
        cells = sorted({r.cells for r in runs})
    return Plan(
        datasets,
        models,
        cells,
        seeds,
        train,
        runs,
        gpu=config["gpu"],
        tf32=config["tf32"],
        config=config,
        start_order=start_order,
        released_from=released_from,
        not_in_source=not_in_source,
    )


#: Keys a `released: true` plan cannot honour: training settings (the released runs were
#: trained as their records say) and preprocessing (the models hold the data they were
#: trained on, which evaluation checks).
_NOT_FOR_RELEASED = (
    "skip_published",
    "budget_hours",
    "cells",
    "epochs",
    "batch_size",
    "patience",
    "shuffle",
    "overrides",
    "normalise",
    "missing",
)


def _check_released_config(config: dict) -> None:
    """ConfigError for a `released: true` config that sets what it cannot honour."""
    baselines = [m for m in config["models"] if is_baseline(m)]
    if baselines:
        raise ConfigError(
            f"config key 'models': released: true evaluates released LSTM-FCN and ALSTM-FCN "
            f"models, and {', '.join(baselines)} has none (its fit takes seconds: train it with "
            "released: false)"
        )
    schema = settings.schema()["properties"]
    for key in _NOT_FOR_RELEASED:
        if config[key] not in (None, {}) and config[key] != schema[key].get("default"):
            raise ConfigError(
                f"config key {key!r}: released: true evaluates the released models as they "
                f"were trained and prepared; drop {key}"
            )


def _released(datasets, models, seeds, records: Path, config: dict) -> list[Run]:
    """The released runs a `released: true` plan evaluates, or ConfigError saying why none."""
    unreleased = [s for s in seeds if s not in RELEASED_SEEDS]
    if unreleased:
        raise ConfigError(
            f"config key 'seeds': seed(s) {unreleased} have no released models "
            f"(released seeds: {list(RELEASED_SEEDS)})"
        )
    if not (records / "runs").is_dir():
        raise ConfigError(f"config key 'records': {records} is not a reproduction folder")
    try:
        runs = released_runs(records, datasets, models, seeds)
    except LstmfcnError as e:
        raise ConfigError(f"config key 'records': {e}") from None
    if not runs:
        raise ConfigError(
            f"config key 'released': {records} releases no model of the datasets and models "
            "asked for (`ls reproduction/weights` lists the released datasets)"
        )
    missing = sorted({d for d in datasets} - {r.dataset for r in runs})
    if config["datasets"] and missing:  # the preset's list is left to what is released
        raise ConfigError(
            f"config key 'datasets': {records} releases no model of {', '.join(missing)} "
            "(`ls reproduction/weights` lists the released datasets)"
        )
    return runs
