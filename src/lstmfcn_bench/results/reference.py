"""Published accuracies on the paper's 85 datasets, indexed by 2018 name: the paper's table
(:func:`published_table`) and the 2023 bake-off's (:func:`bakeoff_table`)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from io import StringIO

import pandas as pd

from ..data.registry import canonical_name
from ..errors import LstmfcnError
from ..baselines import BASELINES
from ..runs import PAPER_MODELS, PUBLISHED_AS


def _resource_csv(name: str) -> pd.DataFrame:
    text = resources.files("lstmfcn_bench").joinpath("resources", name).read_text("utf-8")
    return pd.read_csv(StringIO(text))


@cache
def _published() -> pd.DataFrame:
    raw = _resource_csv("lstm_fcn_published.csv")
    raw = raw.rename(columns={"Dataset": "name_2015", "CNN": "FCN"})
    raw.index = pd.Index([canonical_name(n) for n in raw["name_2015"]], name="dataset")
    if raw.index.has_duplicates:  # pragma: no cover - guards the shipped resource
        raise LstmfcnError("published table maps two 2015 names to one 2018 name")
    raw["name_2015"] = raw["name_2015"].astype(object)
    return raw


def published_table() -> pd.DataFrame:
    """The published accuracies (85 datasets), indexed by 2018 name.

    Columns: ``name_2015`` (the paper's spelling), ``ALSTM-FCN``, ``LSTM-FCN`` (the authors'
    leak-free rerun) and the baselines as headed in the paper's code, except that the column
    headed ``CNN`` there is FCN (Wang et al., 2017) and is called ``FCN`` here.
    """
    return _published().copy()


def published_methods() -> list[str]:
    """Accuracy columns of the published table: LSTM-FCN, ALSTM-FCN, then the baselines."""
    cols = [c for c in _published().columns if c != "name_2015"]
    first = list(dict.fromkeys(PUBLISHED_AS[m] for m in PAPER_MODELS))
    return first + [c for c in cols if c not in first]


@cache
def _bakeoff() -> pd.DataFrame:
    raw = _resource_csv("bakeoff_redux_default_split.csv").set_index("Dataset")
    names = [canonical_name(n) for n in raw.index]
    if names != list(raw.index):  # pragma: no cover - guards the shipped resource
        raise LstmfcnError("bake-off table: dataset names are not the registry's 2018 names")
    raw.index.name = "dataset"
    return raw.astype("float64")


def bakeoff_table() -> pd.DataFrame:
    """Test accuracies of the 2023 bake-off on the paper's 85 datasets, indexed by 2018 name.

    Middlehurst, Schäfer and Bagnall, "Bake off redux: a review and experimental evaluation of
    recent time series classification algorithms" (Data Mining and Knowledge Discovery, 2024).
    Columns, as the bake-off names the methods: ``InceptionTime``, ``H-InceptionTime``,
    ``LITETime``, ``ResNet``, ``ROCKET``, ``MiniROCKET``, ``MR-Hydra``, ``HC2``, ``1NN-DTW``.

    Provenance (``resources/bakeoff_redux_default_split.csv``): the published results in the
    public repository time-series-machine-learning/tsml-eval at commit
    b71665415853fae7a6a109a4245487608dbf88a0, files
    ``tsml_eval/publications/y2023/tsc_bakeoff/results/<family>/<Method>_accuracy.csv``,
    column 0 = resample 0, which is each archive's own train/test split (its 1NN-DTW equals the
    UCR site's: GunPoint 0.9067, Adiac 0.6036), on the 2018 archive's data as shipped. Means
    over the 85: InceptionTime 0.848, ROCKET 0.849, MiniROCKET 0.846, MR-Hydra 0.857, HC2
    0.861, ResNet 0.825, 1NN-DTW 0.740. These are published numbers, not rerun here.
    """
    return _bakeoff().copy()


def bakeoff_methods() -> list[str]:
    """Accuracy columns of the bake-off table, in its order."""
    return list(_bakeoff().columns)


def reference_table() -> pd.DataFrame:
    """:func:`published_table`, with each baseline's bake-off column as ``PUBLISHED_AS`` names
    it (``MiniROCKET (bake-off)``): every column a model of the table is compared with."""
    out = published_table()
    bake = bakeoff_table()
    for name, baseline in BASELINES.items():
        if baseline.bakeoff:
            out[PUBLISHED_AS[name]] = bake[baseline.bakeoff].reindex(out.index)
    return out
