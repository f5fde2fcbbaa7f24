"""Where LSTM-FCN stands today: the bake-off reference data, and our models beside it (means,
ranks, left-out datasets, the page and its files)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstmfcn_bench.aggregate import write_today
from lstmfcn_bench.data.registry import canonical_name, preset, registry
from lstmfcn_bench.results import reference, today

OURS_L, OURS_A = "LSTM-FCN (ours)", "ALSTM-FCN (ours)"

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
    refs = today.references().mean(axis=0).round(3)
    assert refs["LSTM-FCN (published)"] == 0.843 and refs["ALSTM-FCN (published)"] == 0.828


def test_bakeoff_names_are_the_registrys_2018_names():
    names = list(reference.bakeoff_table().index)
    assert all(n in registry() and canonical_name(n) == n for n in names)
    assert sorted(names) == sorted(preset("ucr85"))
    assert list(today.references().index) == sorted(names)


# --------------------------------------------------------------------------- the comparison

# Reference methods A and B on four datasets; their means over all four are 0.75.
REFS = pd.DataFrame(
    {"A": [0.90, 0.80, 0.70, 0.60], "B": [0.80, 0.80, 0.90, 0.50]},
    index=pd.Index(["P", "Q", "R", "S"], name="dataset"),
)
# Ours: X is not in the references; S has no ALSTM-FCN value. On Q our LSTM-FCN ties A and B at
# 4 decimals (0.800004).
SUMMARY = pd.DataFrame(
    {
        "lstmfcn_selected_mean": [0.95, 0.800004, 0.60, 0.50, 0.99],
        "alstmfcn_selected_mean": [0.85, 0.70, 0.80, math.nan, 0.50],
    },
    index=pd.Index(["P", "Q", "R", "S", "X"], name="dataset"),
)


@pytest.fixture
def small(monkeypatch) -> today.Comparison:
    monkeypatch.setattr(today, "references", lambda: REFS.copy())
    return today.compare_today(SUMMARY)


def test_means_and_ranks_by_hand(small):
    assert list(small.accuracy.columns) == [OURS_L, OURS_A, "A", "B"]
    assert list(small.accuracy.index) == ["P", "Q", "R"]
    # P: ours-L 1, ours-A 3, A 2, B 4; Q: ours-L, A, B tie (2 each), ours-A 4;
    # R: ours-L 4, ours-A 2, A 3, B 1
    assert small.mean_rank.to_dict() == pytest.approx(
        {OURS_L: 7 / 3, OURS_A: 3.0, "A": 7 / 3, "B": 7 / 3}
    )
    assert small.mean_covered.to_dict() == pytest.approx(
        {OURS_L: (0.95 + 0.800004 + 0.60) / 3, OURS_A: 2.35 / 3, "A": 0.8, "B": 2.5 / 3}
    )
    assert small.mean_comparable["A"] == pytest.approx(0.75) and small.mean_comparable[
        "B"
    ] == pytest.approx(0.75)
    assert math.isnan(small.mean_comparable[OURS_L]) and math.isnan(small.mean_comparable[OURS_A])


def test_datasets_outside_the_bakeoff_are_left_out_with_a_note(small):
    assert small.left_out == {
        "S": f"no value for {OURS_A}",
        "X": "not in the bake-off's 85 datasets",
    }
    text = today.coverage_text(small)
    assert text.startswith("Covered: 3 of the paper's 85 datasets.")
    assert f"Left out: S (no value for {OURS_A}); X (not in the bake-off's 85 datasets)." in text
    assert "Too few datasets (n=3)" in text and "not conclusive" in text
    table = today.today_table(small)
    assert list(table.index) == [
        "P",
        "Q",
        "R",
        "S",
        "X",
        "mean_covered",
        "mean_rank",
        "mean_comparable",
    ]
    assert table.loc["X", "note"] == "left out: not in the bake-off's 85 datasets"
    assert table.loc[["S", "X"], [OURS_L, "A"]].isna().all().all()
    assert table.loc["mean_rank", OURS_A] == 3.0 and table.loc["mean_comparable", "B"] == 0.75
    assert table.loc["mean_covered", "note"] == "mean over the covered datasets (n=3)"


def test_nothing_covered_still_lists_the_references(monkeypatch):
    monkeypatch.setattr(today, "references", lambda: REFS.copy())
    c = today.compare_today(SUMMARY.loc[["X"]])
    assert c.n == 0 and list(c.accuracy.columns) == [OURS_L, OURS_A, "A", "B"]
    assert c.mean_comparable["A"] == pytest.approx(0.75) and math.isnan(c.mean_rank["A"])
    assert "Covered: 0 of the paper's 85" in today.coverage_text(c)


def real_summary(datasets: list[str], below: float) -> pd.DataFrame:
    """Ours: HC2's accuracy minus ``below`` (LSTM-FCN) and minus twice that (ALSTM-FCN),
    staggered so that no two differences are equal; 0.9 where the bake-off has no value."""
    hc2 = reference.bakeoff_table()["HC2"].reindex(datasets).fillna(0.9)
    step = np.arange(len(datasets)) * 1e-4
    return pd.DataFrame(
        {
            "lstmfcn_selected_mean": hc2 - below - step,
            "alstmfcn_selected_mean": hc2 - 2 * below - step,
        },
        index=pd.Index(datasets, name="dataset"),
    )


def test_page_and_files_on_the_real_references(tmp_path):
    datasets = ["ArrowHead", "GunPoint", "Coffee", "ECG200", "CBF", "BeetleFly", "Wine", "ACSF1"]
    summ = real_summary(datasets, 0.01)
    write_today(summ, tmp_path)
    page = (tmp_path / "today.html").read_text()
    assert "Covered: 7 of the paper&#x27;s 85 datasets." in page
    assert "ACSF1 (not in the bake-off&#x27;s 85 datasets)" in page
    assert "not rerun here" in page and "own train/test split" in page
    assert "No pair of the 13 methods differs significantly" in page
    assert "not a sample of the archive" in page and "data:image/png;base64," in page
    table = pd.read_csv(tmp_path / "today.csv", index_col="dataset")
    # over the 71 datasets whose split is the bake-off's (over all 85: 0.8607 and 0.8427, the
    # authors' on 14 datasets testing other series than HC2)
    assert table.loc["mean_comparable", "HC2"] == pytest.approx(0.8741, abs=5e-5)
    assert table.loc["mean_comparable", "LSTM-FCN (published)"] == pytest.approx(0.8501, abs=5e-5)
    assert table.loc["mean_rank"].drop("note").astype(float).sum() == pytest.approx(13 * 14 / 2)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(first) == {"today.csv", "today.html", "today_cd.png", "today_cd.svg"}
    write_today(summ, tmp_path)  # a rebuild gives the same bytes
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first


def test_all_85_covered_says_which_pairs_differ():
    """All 85 covered: the 71 on the bake-off's split are compared, the 14 that the 2018
    archive exchanged are named once, with why."""
    summ = real_summary(preset("ucr85"), 0.02)
    c = today.compare_today(summ)
    sig, pairs = today.significant_pairs(c)
    assert c.n == 71 == today.N_COMPARABLE and pairs == 78 and sig > 0
    text = today.coverage_text(c)
    assert text.count(today.SPLIT_NOTE) == 1 and "DistalPhalanxTW, Earthquakes, FordA" in text
    assert f"{sig} of 78 pairs of methods differ significantly" in text
    assert "not a sample" not in text
