"""Split-file parsers: real UCR data in every format, and a clear error for every malformed file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lstmfcn_bench.data.formats import RawSplit, read_split
from lstmfcn_bench.errors import DataFormatError

SHARED_GUNPOINT = Path(__file__).resolve().parents[1].parent / "shared" / "ucr" / "GunPoint"
#: What the demo fixture (conftest.py) extracts for this module.
DEMO_EXTRACTED = ("GunPoint", "ItalyPowerDemand", "ArrowHead")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def where(path: Path, line: int) -> str:
    """The regex an error message must match: it names the file and the 1-based line."""
    return re.escape(f"{path.name}, line {line}:")


def as_matrix(split: RawSplit) -> np.ndarray:
    return np.stack(split.series)


# --- real data --------------------------------------------------------------------------------


def test_gunpoint_ts(demo):
    train = read_split(demo / "GunPoint_TRAIN.ts")
    test = read_split(demo / "GunPoint_TEST.ts")
    assert len(train.series) == len(train.labels) == 50
    assert len(test.series) == 150
    assert {x.shape for x in train.series + test.series} == {(150,)}
    assert all(x.dtype == np.float64 for x in train.series)
    assert sorted(set(train.labels)) == ["1", "2"]
    assert train.path == demo / "GunPoint_TRAIN.ts"
    assert train.series[0][0] == pytest.approx(-0.6478854)
    assert not np.isnan(as_matrix(train)).any()


def test_italy_power_demand_ts(demo):
    train = read_split(demo / "ItalyPowerDemand_TRAIN.ts")
    test = read_split(demo / "ItalyPowerDemand_TEST.ts")
    assert (len(train.series), len(test.series)) == (67, 1029)
    assert {x.size for x in train.series + test.series} == {24}
    assert sorted(set(test.labels)) == ["1", "2"]


def test_arrowhead_ts_without_equal_length_header(demo):
    # Its header has a blank line and no @equalLength: read as fixed length.
    train = read_split(demo / "ArrowHead_TRAIN.ts")
    assert len(train.series) == 36
    assert {x.size for x in train.series} == {251}
    assert sorted(set(train.labels)) == ["0", "1", "2"]


def _fmt(v: float) -> str:
    return repr(float(v))


@pytest.fixture(scope="module")
def gunpoint_all_formats(demo, tmp_path_factory) -> dict[str, Path]:
    """GunPoint_TRAIN written out in every supported format from the .ts original."""
    src = read_split(demo / "GunPoint_TRAIN.ts")
    out = tmp_path_factory.mktemp("formats")
    rows = [([_fmt(v) for v in x], lab) for x, lab in zip(src.series, src.labels, strict=True)]
    files = {"ts": demo / "GunPoint_TRAIN.ts"}
    files["tsv"] = write(
        out / "GunPoint_TRAIN.tsv", "".join(f"{lab}\t" + "\t".join(v) + "\n" for v, lab in rows)
    )
    attrs = "".join(f"@attribute att{i} numeric\n" for i in range(150))
    files["arff"] = write(
        out / "GunPoint_TRAIN.arff",
        "% converted\n@relation Gun_Point\n\n"
        + attrs
        + "@attribute target {1,2}\n\n@data\n"
        + "".join(",".join(v) + f",{lab}\n" for v, lab in rows),
    )
    files["ucr2015_comma"] = write(
        out / "Gun_Point_TRAIN", "".join(f"{lab}," + ",".join(v) + "\n" for v, lab in rows)
    )
    files["ucr2015_space"] = write(
        out / "Gun_Point_TEST", "".join(f"  {lab}  " + "  ".join(v) + "  \n" for v, lab in rows)
    )
    files["txt"] = write(
        out / "Gun_Point_TRAIN.txt", "".join(f"{lab}," + ",".join(v) + "\r\n" for v, lab in rows)
    )
    return files


@pytest.mark.parametrize("fmt", ["tsv", "arff", "ucr2015_comma", "ucr2015_space", "txt"])
def test_all_formats_agree(gunpoint_all_formats, fmt):
    ref = read_split(gunpoint_all_formats["ts"])
    got = read_split(gunpoint_all_formats[fmt])
    np.testing.assert_array_equal(as_matrix(got), as_matrix(ref))
    assert got.labels == ref.labels
    first = 157 if fmt == "arff" else 1  # arff: 3 lines + 150 attributes + class + blank + @data
    assert got.lines == list(range(first, first + 50))


@pytest.mark.skipif(not SHARED_GUNPOINT.is_dir(), reason="shared UCR files not present")
@pytest.mark.parametrize("suffix", [".tsv", ".arff"])
def test_shared_gunpoint_files_match_ts(demo, suffix):
    ref = read_split(demo / "GunPoint_TRAIN.ts")
    got = read_split(SHARED_GUNPOINT / f"GunPoint_TRAIN{suffix}")
    np.testing.assert_array_equal(as_matrix(got), as_matrix(ref))
    assert got.labels == ref.labels


# --- variable length and missing values -------------------------------------------------------


def test_tsv_variable_length_and_missing(tmp_path):
    f = write(
        tmp_path / "Var_TRAIN.tsv",
        "1\t1.0\t2.0\t3.0\t4.0\n"
        "-1\t1.0\tNaN\t3.0\tNaN\n"  # interior NaN kept, trailing NaN is padding
        "1\t5.0\t6.0\tNaN\tNaN\n"
        "b\tNaN\t7.0\tnan\tNaN\n",  # a leading NaN is a missing value, not padding
    )
    s = read_split(f)
    assert [x.size for x in s.series] == [4, 3, 2, 2]
    np.testing.assert_array_equal(s.series[1], [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(s.series[3], [np.nan, 7.0])
    assert s.labels == ["1", "-1", "1", "b"]
    assert s.lines == [1, 2, 3, 4]


def test_ts_missing_values_and_variable_length(tmp_path):
    f = write(
        tmp_path / "Var_TRAIN.ts",
        "# comment\n@problemName Var\n@missing true\n@equalLength false\n"
        "@classLabel true a b\n@data\n"
        "1,?,3:a\n1,2,3,4,5:b\n4,NaN,?:a\n",
    )
    s = read_split(f)
    assert [x.size for x in s.series] == [3, 5, 1]  # trailing ? stripped: @equalLength false
    np.testing.assert_array_equal(s.series[0], [1.0, np.nan, 3.0])
    assert s.labels == ["a", "b", "a"]
    assert s.lines == [7, 8, 9]


def test_ts_equal_length_keeps_trailing_missing(tmp_path):
    f = write(tmp_path / "X_TEST.ts", "@equalLength true\n@classLabel true 1 2\n@data\n1,2,?:1\n")
    np.testing.assert_array_equal(read_split(f).series[0], [1.0, 2.0, np.nan])


def test_arff_missing_and_quoted_labels(tmp_path):
    f = write(
        tmp_path / "X_TRAIN.arff",
        "@relation x\n@attribute a numeric\n@attribute b numeric\n@attribute c numeric\n"
        "@attribute 'class' {'up','down'}\n@data\n% a comment\n1,?,3,'up'\n4,5,?,down\n",
    )
    s = read_split(f)
    np.testing.assert_array_equal(s.series[0], [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(s.series[1], [4.0, 5.0])
    assert s.labels == ["up", "down"]


def test_uppercase_extension_and_crlf(tmp_path):
    f = write(tmp_path / "X_TRAIN.TSV", "1\t1\t2\r\n2\t3\t4\r\n")
    assert read_split(str(f)).labels == ["1", "2"]


# --- errors: every one names the file and the line --------------------------------------------

TS_HEAD = "@problemName X\n@equalLength true\n@classLabel true 1 2\n@data\n"  # data from line 5

ERROR_CASES = [
    # (file name, content, line, message fragment)
    ("X_TRAIN.tsv", "1\t1\t2\t3\n2\t1\t2\n", 2, "ragged row: 3 columns, but line 1 has 4"),
    ("X_TRAIN.tsv", "1\t1\t2\n2\t1\tabc\n", 2, "non-numeric value 'abc' in column 3"),
    ("X_TRAIN.tsv", "1\t1\t2\n2\t1\t\n", 2, "empty cell in column 3"),
    ("X_TRAIN.tsv", "1\t1\t2\n\t1\t2\n", 2, "missing class label"),
    ("X_TRAIN.tsv", "1\t1\t2\nNaN\t1\t2\n", 2, "missing class label ('NaN')"),
    ("X_TRAIN.tsv", "1\t1\t2\n2\tNaN\tNaN\n", 2, "series has no values"),
    ("X_TRAIN.tsv", "1\t1\t2\n2\t1\tinf\n", 2, "infinite value 'inf' in column 3"),
    ("X_TRAIN.tsv", "\n1\n", 2, "a row needs a label and at least one value"),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:1\n1,2:2\n", 6, "ragged row: 2 values, but line 5 says 3"),
    (
        "X_TRAIN.ts",
        "@seriesLength 3\n@data\n1,2,3,4:1\n",
        3,
        "4 values, but @seriesLength says 3 (declare @equalLength false",
    ),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:1\n1,x,3:2\n", 6, "non-numeric value 'x' in column 2"),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:1\n1,2,3\n", 6, "missing class label (no ':label'"),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:1\n1,2,3:\n", 6, "missing class label"),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:1\n1,2,3:7\n", 6, "class '7' is not among the declared"),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:4,5,6:1\n", 5, "multivariate .ts files are not supported"),
    ("X_TRAIN.ts", "@univariate false\n@data\n", 1, "multivariate .ts files are not supported"),
    ("X_TRAIN.ts", "@timeStamps true\n@data\n", 1, "time-stamped .ts files are not supported"),
    ("X_TRAIN.ts", "@equalLength maybe\n@data\n", 1, "@equallength must be true or false"),
    ("X_TRAIN.ts", "@classLabel false\n@data\n1,2:1\n", 3, "missing class label"),
    ("X_TRAIN.ts", "1,2,3:1\n@data\n", 1, "data row before @data"),
    ("X_TRAIN.ts", TS_HEAD + "1,2,3:1\n@classLabel true 1\n", 6, "header line after @data"),
    (
        "X_TRAIN.arff",
        "@attribute a numeric\n@attribute b numeric\n@attribute c {1,2}\n@data\n1,2,1\n1,2\n",
        6,
        "ragged row: 2 columns, but the @attribute header has 3",
    ),
    (
        "X_TRAIN.arff",
        "@attribute a numeric\n@attribute c {1,2}\n@data\n1,1\nfoo,2\n",
        5,
        "non-numeric value 'foo' in column 1",
    ),
    ("X_TRAIN.arff", "@attribute a numeric\n@attribute c {1,2}\n@data\n1,?\n", 4, "missing class"),
    (
        "X_TRAIN.arff",
        "@attribute a numeric\n@attribute c {1,2}\n@data\n1,3\n",
        4,
        "class '3' is not among the declared",
    ),
    ("X_TRAIN.arff", "@attribute a numeric\n@data\n{0 1}\n", 3, "sparse ARFF rows"),
    ("X_TRAIN.arff", "@attribute a relational\n@data\n", 1, "multivariate (relational) ARFF"),
    ("X_TRAIN", "1,2,3\n2,3\n", 2, "ragged row: 2 columns, but line 1 has 3"),
    ("X_TRAIN", "1 2 3\n2 3 zz\n", 2, "non-numeric value 'zz' in column 3"),
    ("X_TEST.txt", "1,2,3\n,3,4\n", 2, "missing class label"),
]


@pytest.mark.parametrize(("name", "content", "line", "message"), ERROR_CASES)
def test_malformed_file_errors_name_file_and_line(tmp_path, name, content, line, message):
    f = write(tmp_path / name, content)
    with pytest.raises(DataFormatError, match=where(f, line) + ".*" + re.escape(message)):
        read_split(f)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("X_TRAIN.tsv", ""),
        ("X_TRAIN.tsv", "\n  \n"),
        ("X_TRAIN.ts", "# only comments\n@problemName X\n@data\n"),
        ("X_TRAIN.ts", "@problemName X\n"),  # no @data at all
        ("X_TRAIN.arff", "@relation x\n@attribute a numeric\n@data\n% nothing\n"),
        ("X_TRAIN", ""),
    ],
)
def test_empty_split(tmp_path, name, content):
    f = write(tmp_path / name, content)
    with pytest.raises(DataFormatError, match=re.escape(f"{f.name}: no ") + ".*empty split"):
        read_split(f)


@pytest.mark.parametrize("name", ["X_TRAIN.csv", "X_TRAIN.npy", "README", "X_TRAIN.ts.gz"])
def test_unsupported_extension(tmp_path, name):
    f = write(tmp_path / name, "1,2,3\n")
    with pytest.raises(DataFormatError, match=re.escape(name) + ".*unsupported file type"):
        read_split(f)


def test_unreadable_file(tmp_path):
    with pytest.raises(DataFormatError, match="cannot read .*Nope_TRAIN.tsv"):
        read_split(tmp_path / "Nope_TRAIN.tsv")


@pytest.mark.parametrize(
    "content",
    [
        "\x00\x01\x02\n",
        "1\t1e999999x\n",
        "1\t--1\n",
        "1\t(1,2)\n",
        "@data\n",
        "1\t1\t2\n2\n",
        "\ufeff1\t1\n1\t\xe9\n",
    ],
)
@pytest.mark.parametrize("suffix", [".tsv", ".ts", ".arff", ""])
def test_garbage_never_escapes_as_a_bare_exception(tmp_path, content, suffix):
    f = write(tmp_path / f"G_TRAIN{suffix}", content)
    try:
        read_split(f)
    except DataFormatError as e:
        assert f.name in str(e)
