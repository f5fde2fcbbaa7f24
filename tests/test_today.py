"""Where LSTM-FCN stands today: the bake-off reference data."""

from __future__ import annotations

import pytest

from lstmfcn_bench.data.registry import canonical_name, preset, registry
from lstmfcn_bench.results import reference

# --------------------------------------------------------------------------- reference data


def test_bakeoff_means_over_the_85_are_the_published_figures():
    table = reference.bakeoff_table()
    assert len(table) == 85 and not table.isna().any().any()
    means = table.mean(axis=0).round(3)
    expected = {
        "InceptionTime": 0.848,
        "ROCKET": 0.849,
        "MiniROCKET": 0.846,
        "MR-Hydra": 0.857,
        "HC2": 0.861,
        "ResNet": 0.825,
        "1NN-DTW": 0.740,
    }
    for method, mean in expected.items():
        assert means[method] == pytest.approx(mean, abs=1e-9), method
    assert reference.bakeoff_methods()[0] == "InceptionTime" and len(table.columns) == 9
    # resample 0 is the archive's split: its 1-NN DTW is the UCR site's
    assert table.loc["GunPoint", "1NN-DTW"] == pytest.approx(0.9067, abs=5e-5)
    assert table.loc["Adiac", "1NN-DTW"] == pytest.approx(0.6036, abs=5e-5)


def test_bakeoff_names_are_the_registrys_2018_names():
    names = list(reference.bakeoff_table().index)
    assert all(n in registry() and canonical_name(n) == n for n in names)
    assert sorted(names) == sorted(preset("ucr85"))
