"""Run identity: the model names, the record of one run, and every path a run's files take.

A run is one training of one model on one dataset with one cells count and one seed. Its
files are named after its *stem*, ``{model}_c{cells}_s{seed}``, inside per-dataset folders
of the results tree. A baseline (a model of another library, baselines.py) has no LSTM: its
runs have cells 0 and its stem is ``{model}_s{seed}``; its model file is a joblib file. This module is the only place that spells those names: the CLI, the
plan, the workflow's rules, evaluation, tables, timing and figures all ask it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .baselines import BASELINES, is_baseline

#: The paper's models, in the order it lists them: what the workflow trains by default.
PAPER_MODELS: tuple[str, ...] = ("lstmfcn", "alstmfcn")
#: Every model: the paper's, then variants that differ in one named detail. A variant is its
#: own model name, so its runs never mix with the paper's (``lstmfcn_sigmoid``: LSTM-FCN with
#: Keras 3's sigmoid gate where the authors' Keras 2 used hard sigmoid; models/gates.py).
#: Baselines of other libraries follow (baselines.py).
KERAS_MODELS: tuple[str, ...] = (*PAPER_MODELS, "lstmfcn_sigmoid")
MODELS: tuple[str, ...] = (*KERAS_MODELS, *BASELINES)
#: Display names; the paper's models as in the published table's columns.
DISPLAY: dict[str, str] = {
    "lstmfcn": "LSTM-FCN",
    "alstmfcn": "ALSTM-FCN",
    "lstmfcn_sigmoid": "LSTM-FCN (sigmoid gate)",
    **{name: b.display for name, b in BASELINES.items()},
}
#: The published column each model is compared with: the paper's, or the bake-off's.
PUBLISHED_AS: dict[str, str] = {
    "lstmfcn": "LSTM-FCN",
    "alstmfcn": "ALSTM-FCN",
    "lstmfcn_sigmoid": "LSTM-FCN",
    # A baseline is compared with its column of the 2023 bake-off (results/reference.py).
    **{name: f"{b.bakeoff} (bake-off)" for name, b in BASELINES.items() if b.bakeoff},
}
#: The name each model's Keras graph carries (saved inside every .keras file).
KERAS_NAME: dict[str, str] = {
    "lstmfcn": "lstm_fcn",
    "alstmfcn": "alstm_fcn",
    "lstmfcn_sigmoid": "lstm_fcn_sigmoid",
}
#: Models with an attention LSTM, which the context figure can draw.
ATTENTION_MODELS: tuple[str, ...] = ("alstmfcn",)

#: The workflow's results tree (paths below are relative to it).
RESULTS = "results"
STEM = "{model}_c{cells}_s{seed}"
BASELINE_STEM = "{model}_s{seed}"

#: Every file of one run: ``{dataset}`` and ``{stem}`` are filled in.
RUN_FILES: dict[str, str] = {
    "model": "models/{dataset}/{stem}.keras",  # the kept (minimum training loss) weights
    "baseline_model": "models/{dataset}/{stem}.joblib",  # a baseline's fitted classifier
    "history": "models/{dataset}/{stem}_history.csv",
    "info": "models/{dataset}/{stem}_train.json",
    "resume": "models/{dataset}/{stem}.resume.npz",  # only while a run is unfinished
    "metrics": "metrics/{dataset}/{stem}.json",
    "train_log": "logs/train/{dataset}/{stem}.log",
    "evaluate_log": "logs/evaluate/{dataset}/{stem}.log",
    "train_benchmark": "benchmarks/train/{dataset}/{stem}.tsv",  # Snakemake's time and memory
    "evaluate_benchmark": "benchmarks/evaluate/{dataset}/{stem}.tsv",
    "curves": "figures/{dataset}/curves_{stem}.png",
    "curves_svg": "figures/{dataset}/curves_{stem}.svg",
    "curves_log": "logs/figures/{dataset}/curves_{stem}.log",
    # Under the committed reproduction folder instead (results/publish.py):
    "record": "runs/{dataset}/{stem}.json",  # metrics + _train.json + provenance
    "record_history": "runs/{dataset}/{stem}_history.csv",  # thinned
    "released": "weights/{dataset}/{stem}.keras",  # the kept model, without optimizer state
}
_STEM_RE = re.compile(r"(\w+?)(?:_c(\d+))?_s(\d+(?:-\d+)*)")
#: Files written beside the model file, named by the model file's stem.
_BESIDE_MODEL = {"history": "_history.csv", "info": "_train.json", "resume": ".resume.npz"}


def display_name(model: str) -> str:
    """'LSTM-FCN' for 'lstmfcn' or for its Keras graph name 'lstm_fcn'; else the name itself."""
    by_keras = {k: m for m, k in KERAS_NAME.items()}
    return DISPLAY.get(by_keras.get(model, model), model)


def stem(model: str, cells: int, seed: int | str) -> str:
    if is_baseline(model):
        return BASELINE_STEM.format(model=model, seed=seed)
    return STEM.format(model=model, cells=cells, seed=seed)


def seeds_label(seeds) -> str:
    """The seeds of a training group as they appear in its job's file names: ``0-1-2``."""
    return "-".join(str(int(s)) for s in seeds)


def group_pattern(kind: str, seeds, root: str = RESULTS) -> str:
    """A training group's job file (``train_log``, ``train_benchmark``) as a wildcard pattern
    over ``{dataset}``, ``{model}``, ``{cells}``: one file for all the group's seeds."""
    return pattern(kind, root).replace("{seed}", seeds_label(seeds))


def pattern(kind: str, root: str = RESULTS, baseline: bool = False) -> str:
    """The path of ``kind`` as a wildcard pattern (``{dataset}``, ``{model}``, ``{cells}``,
    ``{seed}``; a baseline's has no ``{cells}``), as the workflow's rules declare it."""
    name = BASELINE_STEM if baseline else STEM
    return f"{root}/{RUN_FILES[kind].format(dataset='{dataset}', stem=name)}"


def stem_pattern(kind: str, root: str = RESULTS) -> str:
    """The path of ``kind`` as a pattern over ``{dataset}`` and ``{stem}`` (any model's run,
    baselines included; :func:`run_of` reads the run back)."""
    return f"{root}/{RUN_FILES[kind].format(dataset='{dataset}', stem='{stem}')}"


#: What a ``{stem}`` wildcard may match (a run's stem, not a training group's).
STEM_WILDCARD = r"\w+?(_c\d+)?_s\d+"


@dataclass(frozen=True)
class Run:
    dataset: str
    model: str
    cells: int
    seed: int

    @property
    def stem(self) -> str:
        return stem(self.model, self.cells, self.seed)

    def path(self, kind: str, root: str | Path = RESULTS) -> Path:
        """Where file ``kind`` (a key of :data:`RUN_FILES`) of this run lives under ``root``."""
        if kind == "model" and is_baseline(self.model):
            kind = "baseline_model"
        return Path(root) / RUN_FILES[kind].format(dataset=self.dataset, stem=self.stem)


def is_baseline_file(model_path: Path) -> bool:
    """Whether a model file is a baseline's (joblib), not a Keras model."""
    return Path(model_path).suffix == Path(RUN_FILES["baseline_model"]).suffix


def beside_model(model_path: Path, kind: str) -> Path:
    """The run's ``history``, ``info`` or ``resume`` file next to its ``.keras`` file."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + _BESIDE_MODEL[kind])


def runs_of(path: Path) -> list[Run]:
    """The runs a file is named after: ``.../{dataset}/{stem}<suffix>``, one run, or a
    training group's runs when its seeds read ``0-1-2``."""
    path = Path(path)
    match = _STEM_RE.fullmatch(stem_of(path).removeprefix("curves_"))
    if match is None:
        raise ValueError(f"{path} is not named after a run ({STEM}, or {BASELINE_STEM})")
    model, cells, seeds = match.groups()
    if (cells is None) != is_baseline(model):
        raise ValueError(f"{path} is not named after a run ({STEM}, or {BASELINE_STEM})")
    return [Run(path.parent.name, model, int(cells or 0), int(s)) for s in seeds.split("-")]


def run_of(path: Path) -> Run:
    """The one run a file is named after."""
    (run,) = runs_of(path)
    return run


def stem_of(path: Path) -> str:
    """The run stem of the model file or of a file beside it."""
    name = Path(path).name
    for suffix in (*_BESIDE_MODEL.values(), ".keras", ".joblib"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return Path(path).stem


def history_to_info(history_path: Path) -> Path:
    """``<stem>_history.csv`` → ``<stem>_train.json`` next to it."""
    history_path = Path(history_path)
    return history_path.with_name(stem_of(history_path) + _BESIDE_MODEL["info"])
