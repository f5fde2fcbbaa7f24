"""Parsers for one split file of a univariate UCR dataset, in any of the formats it ships in.

Formats, chosen by file name:

- ``*.tsv``  — the 2018 archive: ``label<TAB>v1<TAB>v2...``. Variable-length series are
  padded at the end with the literal ``NaN``; trailing NaNs are that padding and are dropped,
  NaNs inside a series are missing values and kept.
- ``*.ts``   — the sktime/aeon format: ``#`` comments, ``@`` headers, then ``v1,v2,...:label``.
  ``?`` or ``NaN`` is a missing value. Univariate, without time stamps, only.
- ``*.arff`` — Weka ARFF: ``%`` comments, ``@attribute`` lines, then comma-separated rows with
  the class last; ``?`` is a missing value.
- ``NAME_TRAIN`` / ``NAME_TEST`` (no extension) or ``*.txt`` — the 2015 archive: label first,
  comma- or whitespace-separated.

Fixed-width formats (TSV, ARFF, 2015) can only express a shorter series by padding it, so in
all three trailing missing values are treated as padding, as the 2018 archive documents for
TSV. In ``.ts`` they are padding only when the file says ``@equalLength false``.

Every problem is a ``DataFormatError`` naming the file and the 1-based line, never a bare
ValueError from deep inside numpy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataFormatError

#: Cells that mean "no value" (besides NaN, which float() already reads).
_MISSING_CELLS = frozenset({"?"})
#: Labels that mean "no label": a row without a class cannot be used for classification.
_MISSING_LABELS = frozenset({"", "?", "nan"})


@dataclass
class RawSplit:
    """One parsed split, before any preprocessing."""

    series: list[np.ndarray]  # float64 1-D, NaN = missing value; lengths may differ
    labels: list[str]  # as written in the file (stripped)
    path: Path
    #: 1-based line number of each series, so later checks can point into the file.
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.series)


def read_split(path: Path | str) -> RawSplit:
    """Parse one split file; the format follows from the file name (see the module doc)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return _read_tsv(path)
    if suffix == ".ts":
        return _read_ts(path)
    if suffix == ".arff":
        return _read_arff(path)
    if suffix == ".txt" or (suffix == "" and path.name.upper().endswith(("_TRAIN", "_TEST"))):
        return _read_ucr2015(path)
    raise DataFormatError(
        f"{path}: unsupported file type {suffix or '(no extension)'!r}; expected .tsv (UCR 2018), "
        ".ts (sktime/aeon), .arff, or a 2015-style NAME_TRAIN/NAME_TEST file (or .txt)"
    )


# --- shared helpers ---------------------------------------------------------------------------


def _error(path: Path, lineno: int, message: str) -> DataFormatError:
    return DataFormatError(f"{path}, line {lineno}: {message}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline), read lazily: files reach ~100 MB."""
    try:
        # utf-8-sig drops a BOM; 'replace' keeps odd bytes in comments from aborting the read
        # (a bad byte inside a cell still fails, as a quoted non-numeric cell).
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                yield lineno, line.rstrip("\r\n")
    except OSError as e:
        raise DataFormatError(f"cannot read {path}: {e.strerror or e}") from None


def _to_floats(cells: list[str], path: Path, lineno: int, first_column: int) -> np.ndarray:
    """Cells → float64 array; ``?`` → NaN. ``first_column`` is the file column of cells[0]."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None:
        # Missing-value markers are rare: only rewrite cells once the fast path has failed.
        cells = ["nan" if c.strip() in _MISSING_CELLS else c for c in cells]
        try:
            values = np.array(cells, dtype=np.float64)
        except ValueError:
            values = None
    if values is not None and not np.isinf(values).any():
        return values
    # Slow path, only on failure: find the first offending cell to quote it.
    for i, cell in enumerate(cells):
        try:
            v = float(cell)
        except ValueError:
            what = "empty cell" if not cell.strip() else f"non-numeric value {cell.strip()!r}"
            raise _error(path, lineno, f"{what} in column {first_column + i}") from None
        if np.isinf(v):
            raise _error(
                path, lineno, f"infinite value {cell.strip()!r} in column {first_column + i}"
            )
    raise _error(path, lineno, "cannot read the values of this row")  # pragma: no cover


def _strip_trailing_nan(values: np.ndarray) -> np.ndarray:
    valid = np.flatnonzero(~np.isnan(values))
    return values[: valid[-1] + 1] if valid.size else values[:0]


def _check_label(label: str, path: Path, lineno: int) -> str:
    label = label.strip()
    if label.lower() in _MISSING_LABELS:
        shown = f" ({label!r})" if label else ""
        raise _error(path, lineno, f"missing class label{shown}")
    return label


class _Rows:
    """The series of a split read so far, each with its label and line number."""

    def __init__(self, path: Path):
        self.path = path
        self.series: list[np.ndarray] = []
        self.labels: list[str] = []
        self.lines: list[int] = []

    def add(self, x: np.ndarray, label: str, lineno: int) -> None:
        if x.size == 0:
            raise _error(self.path, lineno, "series has no values (all missing)")
        self.series.append(x)
        self.labels.append(label)
        self.lines.append(lineno)

    def finish(self) -> RawSplit:
        if not self.series:
            raise DataFormatError(f"{self.path}: no series found (empty split)")
        return RawSplit(series=self.series, labels=self.labels, path=self.path, lines=self.lines)


def _read_delimited(
    path: Path,
    rows: Iterator[tuple[int, str]],
    split: Callable[[str], list[str]],
    *,
    label_first: bool,
    n_columns: int | None = None,
    allowed_labels: set[str] | None = None,
    unquote: bool = False,
) -> RawSplit:
    """Fixed-width rows (TSV, ARFF, 2015): every row must have the same number of columns."""
    rows_read = _Rows(path)
    first_line = None
    for lineno, line in rows:
        cells = split(line)
        if n_columns is None:
            n_columns, first_line = len(cells), lineno
        if len(cells) != n_columns:
            origin = f"line {first_line}" if first_line else "the @attribute header"
            raise _error(
                path,
                lineno,
                f"ragged row: {len(cells)} columns, but {origin} has {n_columns} "
                "(truncated or corrupt line?)",
            )
        if n_columns < 2:
            raise _error(path, lineno, "a row needs a label and at least one value")
        if label_first:
            label, values, first_col = cells[0], cells[1:], 2
        else:
            label, values, first_col = cells[-1], cells[:-1], 1
        if unquote:
            label = label.strip().strip("'\"")
        label = _check_label(label, path, lineno)
        if allowed_labels is not None and label not in allowed_labels:
            raise _error(
                path, lineno, f"class {label!r} is not among the declared {sorted(allowed_labels)}"
            )
        rows_read.add(
            _strip_trailing_nan(_to_floats(values, path, lineno, first_col)), label, lineno
        )
    return rows_read.finish()


def _nonblank(lines: Iterator[tuple[int, str]], comment: str | None = None):
    for lineno, line in lines:
        s = line.strip()
        if s and not (comment and s.startswith(comment)):
            yield lineno, line


# --- 2018 TSV ---------------------------------------------------------------------------------


def _read_tsv(path: Path) -> RawSplit:
    # Strip spaces and newlines but not tabs: a leading tab is an empty label, not padding.
    rows = ((n, line.strip(" \r\n")) for n, line in _nonblank(_lines(path)))
    return _read_delimited(path, rows, lambda s: s.split("\t"), label_first=True)


# --- 2015 UCR (comma or whitespace) -----------------------------------------------------------


def _read_ucr2015(path: Path) -> RawSplit:
    rows = ((n, line.strip()) for n, line in _nonblank(_lines(path)))
    first = next(rows, None)
    if first is None:
        raise DataFormatError(f"{path}: no series found (empty split)")
    # The separator is a property of the file, decided on its first row.
    split = (lambda s: s.split(",")) if "," in first[1] else (lambda s: s.split())

    def chained():
        yield first
        yield from rows

    return _read_delimited(path, chained(), split, label_first=True)


# --- ARFF -------------------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(.*)$", re.IGNORECASE)


def _read_arff(path: Path) -> RawSplit:
    lines = _nonblank(_lines(path), comment="%")
    n_attributes, class_values = 0, None
    for lineno, line in lines:
        s = line.strip()
        key = s.split(None, 1)[0].lower()
        if key == "@data":
            break
        if key == "@attribute":
            m = _ATTRIBUTE.match(s)
            if not m:
                raise _error(path, lineno, f"malformed @attribute line {s[:60]!r}")
            kind = m.group(2).strip()
            if kind.lower().startswith("relational"):
                raise _error(path, lineno, "multivariate (relational) ARFF is not supported")
            n_attributes += 1
            # Only the last attribute (the class) matters; remember its nominal values.
            class_values = (
                {v.strip().strip("'\"") for v in kind[1 : kind.rfind("}")].split(",")}
                if kind.startswith("{")
                else None
            )
        elif not key.startswith("@"):
            raise _error(path, lineno, "data row before @data")
    else:
        raise DataFormatError(f"{path}: no @data section (empty split)")

    def rows():
        for lineno, line in lines:
            s = line.strip()
            if s.startswith("{"):
                raise _error(path, lineno, "sparse ARFF rows are not supported")
            yield lineno, s

    return _read_delimited(
        path,
        rows(),
        lambda s: s.split(","),
        label_first=False,
        n_columns=n_attributes or None,
        allowed_labels=class_values,
        unquote=True,
    )


# --- sktime / aeon .ts ------------------------------------------------------------------------


def _bool(value: str, path: Path, lineno: int, tag: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise _error(path, lineno, f"{tag} must be true or false, got {value.strip()!r}")
    return v == "true"


def _read_ts(path: Path) -> RawSplit:
    lines = _nonblank(_lines(path), comment="#")
    equal_length: bool | None = None  # None: not declared → treated as fixed length
    series_length: int | None = None
    has_labels = True
    class_labels: set[str] | None = None
    for lineno, line in lines:
        s = line.strip()
        if not s.startswith("@"):
            raise _error(path, lineno, "data row before @data")
        tag, value = (s.split(None, 1) + [""])[:2]
        tag = tag.lower()
        if tag == "@data":
            break
        multivariate = (tag == "@univariate" and not _bool(value, path, lineno, tag)) or (
            tag == "@dimensions" and value.strip() not in ("", "1")
        )
        if multivariate:
            raise _error(path, lineno, "multivariate .ts files are not supported (univariate only)")
        if tag == "@timestamps" and _bool(value, path, lineno, tag):
            raise _error(path, lineno, "time-stamped .ts files are not supported")
        if tag == "@equallength":
            equal_length = _bool(value, path, lineno, tag)
        elif tag == "@serieslength":
            try:
                series_length = int(value)
            except ValueError:
                raise _error(path, lineno, f"bad @seriesLength {value.strip()!r}") from None
        elif tag == "@classlabel":
            flag, *declared = value.split() or [""]
            has_labels = _bool(flag, path, lineno, tag)
            class_labels = set(declared) if has_labels and declared else None
        elif tag == "@targetlabel":  # regression files: the target takes the label's place
            has_labels = _bool(value.split()[0] if value.split() else "", path, lineno, tag)
    else:
        raise DataFormatError(f"{path}: no @data section (empty split)")

    rows_read = _Rows(path)
    expected = series_length if equal_length is not False else None
    expected_from = "@seriesLength" if expected is not None else None
    for lineno, line in lines:
        s = line.strip()
        if s.startswith("@"):
            raise _error(path, lineno, f"header line after @data: {s[:40]!r}")
        if not has_labels:
            raise _error(path, lineno, "missing class label (the file says @classLabel false)")
        parts = s.split(":")
        if len(parts) < 2:
            raise _error(path, lineno, "missing class label (no ':label' at the end)")
        label, dims = _check_label(parts[-1], path, lineno), parts[:-1]
        if len(dims) > 1:
            raise _error(
                path,
                lineno,
                f"{len(dims)} dimensions; multivariate .ts files are not supported (univariate only)",
            )
        if class_labels is not None and label not in class_labels:
            raise _error(
                path,
                lineno,
                f"class {label!r} is not among the declared @classLabel values "
                f"{sorted(class_labels)}",
            )
        x = _to_floats(dims[0].split(","), path, lineno, 1)
        if equal_length is False:
            x = _strip_trailing_nan(x)
        elif expected is None:
            expected, expected_from = x.size, f"line {lineno}"
        if expected is not None and x.size != expected:
            hint = "" if equal_length else " (declare @equalLength false for variable length)"
            raise _error(
                path,
                lineno,
                f"ragged row: {x.size} values, but {expected_from} says {expected}{hint}",
            )
        rows_read.add(x, label, lineno)
    return rows_read.finish()
