"""The published accuracies of the paper's table (85 datasets), indexed by 2018 name."""

from __future__ import annotations

from functools import cache
from importlib import resources
from io import StringIO

import pandas as pd

from ..data.registry import canonical_name
from ..errors import LstmfcnError
from ..runs import PAPER_MODELS, PUBLISHED_AS


@cache
def _published() -> pd.DataFrame:
    text = (
        resources.files("lstmfcn_bench")
        .joinpath("resources", "lstm_fcn_published.csv")
        .read_text("utf-8")
    )
    raw = pd.read_csv(StringIO(text))
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
