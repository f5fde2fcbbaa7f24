"""Label encoding, missing values, normalisation and padding of two parsed splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from lstmfcn_bench.data.formats import RawSplit, read_split
from lstmfcn_bench.data.preprocess import (
    MISSING,
    NORMALISE,
    Prepared,
    encode_labels,
    prepare_splits,
)
from lstmfcn_bench.errors import ConfigError, DataFormatError

#: What the demo fixture (conftest.py) extracts for this module.
DEMO_EXTRACTED = ("GunPoint", "ItalyPowerDemand")


def split(rows: list[list[float]], labels: list[str], name: str = "X_TRAIN.tsv") -> RawSplit:
    return RawSplit(
        series=[np.asarray(r, dtype=np.float64) for r in rows],
        labels=labels,
        path=Path("/data") / name,
        lines=list(range(1, len(rows) + 1)),
    )


def load(demo: Path, name: str, **kw) -> Prepared:
    return prepare_splits(
        read_split(demo / f"{name}_TRAIN.ts"), read_split(demo / f"{name}_TEST.ts"), **kw
    )


# --- labels -----------------------------------------------------------------------------------


def test_minus_one_one():
    y_train, y_test, classes = encode_labels(["1", "-1", "1"], ["-1", "1"])
    assert classes == ["-1", "1"]
    assert y_train.tolist() == [1, 0, 1] and y_test.tolist() == [0, 1]
    assert y_train.dtype == y_test.dtype == np.int64


def test_numeric_sort_not_string_sort():
    labels = [str(i) for i in range(10, 0, -1)]
    y, _, classes = encode_labels(labels, ["10"])
    assert classes == [str(i) for i in range(1, 11)]
    assert y.tolist() == list(range(9, -1, -1))


def test_same_number_written_differently_is_one_class():
    y_train, y_test, classes = encode_labels(["1", "2.0", "1.0"], ["2", "1.000"])
    assert classes == ["1", "2.0"]  # as first written in training
    assert y_train.tolist() == [0, 1, 0] and y_test.tolist() == [1, 0]


def test_string_labels_sort_as_strings():
    y, y_test, classes = encode_labels(["walk", "run", "10", "run"], ["walk"])
    assert classes == ["10", "run", "walk"]
    assert y.tolist() == [2, 1, 0, 1] and y_test.tolist() == [2]


def test_unseen_test_label_is_named():
    with pytest.raises(DataFormatError, match=r"'3', 'x'.*X_TEST\.ts.*never occur in the training"):
        encode_labels(["1", "2"], ["1", "3", "x"], test_path=Path("X_TEST.ts"))
    with pytest.raises(DataFormatError, match=r"'3\.0'.*training classes: 1, 2"):
        encode_labels(["1", "2"], ["2.0", "3.0"])  # numeric labels: 2.0 is class 2, 3.0 is new


def test_prepare_reports_unseen_label_with_file():
    with pytest.raises(DataFormatError, match=r"'9' in /data/X_TEST\.tsv"):
        prepare_splits(split([[1, 2]], ["1"]), split([[1, 2]], ["9"], "X_TEST.tsv"))


# --- real data --------------------------------------------------------------------------------


def test_gunpoint(demo):
    p = load(demo, "GunPoint")
    assert p.X_train.shape == (50, 150) and p.X_test.shape == (150, 150)
    assert p.X_train.dtype == p.X_test.dtype == np.float32
    assert p.classes == ["1", "2"]
    assert set(p.y_train.tolist()) == {0, 1} and p.y_test.dtype == np.int64
    assert p.lengths_train.tolist() == [150] * 50 and p.lengths_test.dtype == np.int64
    np.testing.assert_allclose(p.X_train.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(p.X_test.std(axis=1), 1, atol=1e-4)
    assert p.meta == {
        "length": 150,
        "variable_length": False,
        "n_classes": 2,
        "normalise": "series",
        "missing": "interpolate",
        "n_missing_train": 0,
        "n_missing_test": 0,
        "series_with_missing_train": 0,
        "series_with_missing_test": 0,
    }
    json.dumps(p.meta)  # must be JSON-serialisable (no numpy scalars)


def test_italy_power_demand(demo):
    p = load(demo, "ItalyPowerDemand", normalise="none")
    assert p.X_train.shape == (67, 24) and p.X_test.shape == (1029, 24)
    raw = read_split(demo / "ItalyPowerDemand_TRAIN.ts")
    np.testing.assert_array_equal(p.X_train, np.stack(raw.series).astype(np.float32))


# --- padding and variable length --------------------------------------------------------------


def test_variable_length_padded_with_exact_zeros_to_longest_of_both_splits():
    train = split([[1, 2, 3], [4, 5]], ["a", "b"])
    test = split([[1, 2, 3, 4, 5, 9]], ["a"], "X_TEST.tsv")  # longest is in test
    p = prepare_splits(train, test, normalise="series")
    assert p.X_train.shape == (2, 6) and p.X_test.shape == (1, 6)
    assert p.lengths_train.tolist() == [3, 2] and p.lengths_test.tolist() == [6]
    assert np.all(p.X_train[0, 3:] == 0) and np.all(p.X_train[1, 2:] == 0)
    # normalised over the original length only
    np.testing.assert_allclose(p.X_train[0, :3], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(p.X_train[1, :2], [-1, 1])
    assert p.meta["length"] == 6 and p.meta["variable_length"] is True


def test_variable_length_tsv_end_to_end(tmp_path):
    (tmp_path / "V_TRAIN.tsv").write_text("1\t1\t2\t3\tNaN\n2\t4\tNaN\t6\t7\n")
    (tmp_path / "V_TEST.tsv").write_text("1\t1\t2\tNaN\tNaN\n")
    p = prepare_splits(
        read_split(tmp_path / "V_TRAIN.tsv"), read_split(tmp_path / "V_TEST.tsv"), normalise="none"
    )
    np.testing.assert_array_equal(p.X_train, [[1, 2, 3, 0], [4, 5, 6, 7]])
    np.testing.assert_array_equal(p.X_test, [[1, 2, 0, 0]])
    assert p.meta["n_missing_train"] == 1 and p.meta["series_with_missing_train"] == 1
    assert p.meta["n_missing_test"] == 0


# --- missing values ---------------------------------------------------------------------------

GAPPY = [[np.nan, 2, np.nan, np.nan, 8, np.nan], [1, 2, 3, 4, 5, 6]]


def test_interpolate_linear_inside_nearest_at_edges():
    p = prepare_splits(
        split(GAPPY, ["1", "2"]),
        split([[np.nan, 1.0, 1.0, 3.0, 3.0, 3.0]], ["1"], "X_TEST.tsv"),
        normalise="none",
    )
    np.testing.assert_array_equal(p.X_train[0], [2, 2, 4, 6, 8, 8])
    np.testing.assert_array_equal(p.X_test[0], [1, 1, 1, 3, 3, 3])
    assert p.meta["n_missing_train"] == 4 and p.meta["series_with_missing_train"] == 1
    assert p.meta["n_missing_test"] == 1 and p.meta["series_with_missing_test"] == 1


def test_zero_fill():
    p = prepare_splits(
        split(GAPPY, ["1", "2"]), split([[1.0] * 6], ["1"]), normalise="none", missing="zero"
    )
    np.testing.assert_array_equal(p.X_train[0], [0, 2, 0, 0, 8, 0])
    assert p.X_train.shape == (2, 6)  # never drops rows


def test_missing_error_names_count_split_and_file():
    with pytest.raises(
        DataFormatError, match=r"X_TRAIN\.tsv: 4 missing value\(s\) in 1 series of the train"
    ):
        prepare_splits(split(GAPPY, ["1", "2"]), split([[1.0]], ["1"]), missing="error")
    with pytest.raises(DataFormatError, match=r"X_TEST\.tsv: 1 missing .* test split"):
        prepare_splits(
            split([[1.0, 2.0]], ["1"]), split([[np.nan, 2.0]], ["1"], "X_TEST.tsv"), missing="error"
        )


def test_all_missing_series():
    train = split([[1.0, 2.0], [np.nan, np.nan]], ["1", "2"])
    test = split([[1.0, 2.0]], ["1"])
    with pytest.raises(DataFormatError, match=re.escape("X_TRAIN.tsv, line 2: train series #2")):
        prepare_splits(train, test)
    p = prepare_splits(train, test, missing="zero")
    np.testing.assert_array_equal(p.X_train[1], [0, 0])


# --- normalisation ----------------------------------------------------------------------------


def test_constant_series_is_centred_not_divided():
    p = prepare_splits(split([[3.0, 3.0, 3.0], [0.1] * 3], ["1", "2"]), split([[5.0]], ["1"]))
    assert not np.isnan(p.X_train).any()
    np.testing.assert_array_equal(p.X_train, 0)
    np.testing.assert_array_equal(p.X_test, 0)


def test_dataset_normalisation_uses_training_statistics_only():
    train = split([[0.0, 2.0], [4.0, 6.0]], ["1", "2"])  # mean 3, std sqrt(5)
    test = split([[3.0, 100.0, 5.0]], ["1"])
    p = prepare_splits(train, test, normalise="dataset")
    s = np.sqrt(5.0)
    np.testing.assert_allclose(p.X_train, [[-3 / s, -1 / s, 0], [1 / s, 3 / s, 0]], rtol=1e-6)
    np.testing.assert_allclose(p.X_test, [[0, 97 / s, 2 / s]], rtol=1e-6)
    assert p.X_train[0, 2] == 0  # padding untouched by the shift


def test_dataset_normalisation_constant_training_data():
    p = prepare_splits(split([[2.0, 2.0]], ["1"]), split([[3.0, 2.0]], ["1"]), normalise="dataset")
    np.testing.assert_array_equal(p.X_test, [[1, 0]])


def test_none_leaves_values():
    p = prepare_splits(split([[1.5, -2.0]], ["1"]), split([[7.0]], ["1"]), normalise="none")
    np.testing.assert_array_equal(p.X_train, [[1.5, -2.0]])
    np.testing.assert_array_equal(p.X_test, [[7.0, 0.0]])


# --- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"normalise": "minmax"}, "normalise must be one of"),
        ({"missing": "drop"}, "missing must be one of"),
    ],
)
def test_bad_options(kw, message):
    with pytest.raises(ConfigError, match=message):
        prepare_splits(split([[1.0]], ["1"]), split([[1.0]], ["1"]), **kw)


@pytest.mark.parametrize("normalise", NORMALISE)
@pytest.mark.parametrize("missing", MISSING)
def test_every_option_combination_runs(normalise, missing):
    p = prepare_splits(
        split([[1.0, 2.0, 4.0], [3.0, 1.0]], ["b", "a"]),
        split([[1.0, 5.0]], ["a"]),
        normalise=normalise,
        missing=missing,
    )
    assert p.meta["normalise"] == normalise and p.meta["missing"] == missing
    assert np.isfinite(p.X_train).all() and np.isfinite(p.X_test).all()


def test_empty_split_rejected():
    with pytest.raises(DataFormatError, match="X_TEST.tsv: no series"):
        prepare_splits(split([[1.0]], ["1"]), split([], [], "X_TEST.tsv"))
