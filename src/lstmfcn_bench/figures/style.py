"""Figures: one style for all of them, reproducible PNG + SVG files, no pyplot global state.

Every figure is a ``matplotlib.figure.Figure`` on an explicit Agg canvas (pyplot is never
imported, so nothing leaks between figures or into a caller's session), drawn and saved inside
:func:`style` — an ``rc_context`` that restores the caller's rcParams on exit. Files are
byte-identical for the same inputs and library versions: PNG without the "Software" text chunk,
SVG without a date and with its hashed ids numbered in order (:func:`numbered_ids`), and the
font pinned to DejaVu Sans, which ships with matplotlib (seaborn's default list starts with Arial,
which would make the output depend on the fonts a machine happens to have).

Every figure module of this package draws with the helpers here; the class-label helpers at
the end are shared by the CAM and context figures.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_write
from ..errors import ConfigError
from ..runs import display_name

#: Constant salt of the SVG writer's ids, so two saves of one figure give the same bytes.
SVG_HASHSALT = "lstmfcn-bench"
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None}
DPI = 150
#: Colour map of the class activation maps (perceptually uniform, readable in grey).
CAM_CMAP = "viridis"


def rc_params() -> dict:
    """The shared style: seaborn's "whitegrid" + "paper" context, deterministic output."""
    import seaborn as sns
    from cycler import cycler

    rc: dict = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper"))
    rc.update(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans"],
            "axes.prop_cycle": cycler(color=sns.color_palette("deep")),
            "axes.titlesize": 9.0,
            "axes.spines.right": False,
            "axes.spines.top": False,
            "image.cmap": CAM_CMAP,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "savefig.facecolor": "white",
            "svg.hashsalt": SVG_HASHSALT,
            "svg.fonttype": "path",
            "path.simplify": True,
        }
    )
    return rc


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Draw and save figures inside this: the shared rcParams, restored on exit."""
    with matplotlib.rc_context(rc_params()):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure with constrained layout on its own Agg canvas (call inside :func:`style`)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def palette(n: int) -> list:
    """``n`` colours of the shared palette (seaborn "deep", "husl" beyond ten)."""
    import seaborn as sns

    return list(sns.color_palette("deep" if n <= 10 else "husl", n))


def grid_shape(n_panels: int) -> tuple[int, int]:
    """(rows, columns) for ``n_panels`` panels: one column up to 6, then 2, then 3."""
    cols = 1 if n_panels <= 6 else 2 if n_panels <= 16 else 3
    return math.ceil(n_panels / cols), cols


def wrap(text: str, width: int) -> str:
    """Paragraphs (separated by blank lines) wrapped to ``width`` characters."""
    return "\n".join(textwrap.fill(p.strip(), width) for p in text.split("\n\n"))


def svg_path_for(png: Path) -> Path:
    return Path(png).with_suffix(".svg")


def save_figure(fig: Figure, out: Path, tight: bool = False) -> tuple[Path, Path]:
    """Write ``out`` (PNG) and the SVG next to it (same stem), atomically; returns both paths."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ConfigError(
            f"the figure path must end in .png (an .svg is written beside it), got {out}"
        )
    svg = svg_path_for(out)
    png_bytes, svg_bytes = figure_bytes(fig, "png", tight), figure_bytes(fig, "svg", tight)
    atomic_write(out, lambda f: f.write(png_bytes))
    atomic_write(svg, lambda f: f.write(svg_bytes))
    return out, svg


def figure_bytes(fig: Figure, fmt: str, tight: bool = False) -> bytes:
    """The figure as PNG or SVG bytes, reproducibly (``tight``: crop to what is drawn)."""
    buf = io.BytesIO()
    metadata = PNG_METADATA if fmt == "png" else SVG_METADATA
    with style():
        fig.savefig(buf, format=fmt, metadata=metadata, bbox_inches="tight" if tight else None)
    return buf.getvalue() if fmt == "png" else numbered_ids(buf.getvalue())


#: matplotlib's SVG ids: a letter and 10 hex digits of a hash of what they name.
_HASHED_ID = re.compile(rb'(?<=id=")[a-z][0-9a-f]{10}(?=")|(?<=#)[a-z][0-9a-f]{10}(?=[")])')


def numbered_ids(svg: bytes) -> bytes:
    """Hashed ids renamed in order of first use. A clip path's id hashes its rectangle's
    floats, whose last bits differ between processes (constrained layout's solver), so the
    same figure would otherwise save to different bytes in different runs."""
    names: dict[bytes, bytes] = {}

    def rename(match: re.Match) -> bytes:
        found = match.group(0)
        return names.setdefault(found, found[:1] + b"%d" % (len(names) + 1))

    return _HASHED_ID.sub(rename, svg)


def model_display_name(model) -> str:
    """'LSTM-FCN' / 'ALSTM-FCN' for a built or loaded model."""
    return display_name(getattr(model, "name", "model"))


def class_labels(dataset) -> list[str]:
    return [str(c) for c in dataset.classes]


def resolve_classes(dataset, wanted: Sequence[str] | None) -> list[int]:
    """Indices of the class labels ``wanted`` (all classes when None), or a clear error."""
    labels = class_labels(dataset)
    if not wanted:
        return list(range(len(labels)))
    out = []
    for label in wanted:
        if str(label) not in labels:
            raise ConfigError(
                f"{dataset.name} has no class {label!r}; its classes are: {', '.join(labels)}"
            )
        out.append(labels.index(str(label)))
    return out
