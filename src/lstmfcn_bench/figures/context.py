"""Context visualisation for ALSTM-FCN: what the attention LSTM attends to, per sample.

For each series the attention LSTM gives, at every recurrence step t, the attention weights
α_t over its S input timesteps and the context z_t = Σ_j α_tj x_j (:mod:`lstmfcn_bench.models.attention`).
Drawn per sample under the series: α averaged over the recurrence steps (a distribution over the
input timesteps, summing to 1) and z flattened over steps and features, each linearly resized to
the series length when its length differs and rescaled to [-1, 1].

With the paper's dimension shuffle the whole series is ONE timestep (S = 1): the attention spans a
single step, so α ≡ 1 and z = x — the "context" is the input series itself and the attention
carries no information about where in the series the model looks. The ``shuffle: false`` variant
(input (T, 1)) makes the attention span all T timesteps; only then does α show attention over
time. :data:`CONTEXT_CAPTION` says this for the figure and the report.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError, LstmfcnError
from ..models.checkpoint import check_model_fits, checkpoint_shape, model_series_input
from ..progress import Progress

CONTEXT_CAPTION = (
    "Context of the attention LSTM of ALSTM-FCN. Top of each panel: the series; below it: the "
    "attention weights α (averaged over the recurrence steps) and the context vector z, each "
    "linearly resized to the series length where needed and rescaled to [-1, 1] (a constant "
    "curve is drawn at its sign, so α ≡ 1 is a flat line at +1). With the paper's dimension "
    "shuffle the whole series is a single LSTM timestep, so the attention spans a single step: "
    "α ≡ 1 and z = x — the context repeats the series and shows nothing about where the model "
    "looks. The `shuffle: false` variant (the series as T timesteps of one feature) makes the "
    "attention span all T timesteps, and only there does α show attention over time."
)

#: Drawing more samples than this (train + test) prints a warning.
LARGE = 200


def attention_summary(model, X) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha, z)`` per sample for series ``X`` (n, T), from the model's attention LSTM.

    ``alpha`` (n, S): the attention weights over the S input timesteps, averaged over the S
    recurrence steps (each row sums to 1). ``z`` (n, S·F): the context at every step, flattened
    — with the dimension shuffle S = 1 and F = T, so ``alpha`` ≡ 1 and ``z`` equals the series.
    A model without an attention LSTM raises :class:`LstmfcnError`.
    """
    from ..models.attention import find_attention_layer

    # the clear error for an LSTM-FCN, before anything runs
    return _summary(find_attention_layer(model), model, X)


def _summary(layer, model, X) -> tuple[np.ndarray, np.ndarray]:
    """:func:`attention_summary` with the model's attention LSTM ``layer`` found."""
    from ..models.attention import layer_weights_and_context

    alpha, z = layer_weights_and_context(layer, model_series_input(model, X))
    return alpha.mean(axis=1), z.reshape(len(z), -1)


def resize_linear(values: np.ndarray, length: int) -> np.ndarray:
    """Rows of ``values`` (n, m) linearly interpolated to ``length`` points over the same span
    (a single value is repeated); unchanged when m == length."""
    values = np.asarray(values, dtype=np.float64)
    m = values.shape[-1]
    if m == length:
        return values.copy()
    if m == 1:
        return np.repeat(values, length, axis=-1)
    src, dst = np.linspace(0.0, 1.0, m), np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(dst, src, row) for row in values.reshape(-1, m)]).reshape(
        *values.shape[:-1], length
    )


def rescale_symmetric(values: np.ndarray) -> np.ndarray:
    """Min–max of each row to [-1, 1]; a constant row becomes its sign (α ≡ 1 → +1)."""
    values = np.asarray(values, dtype=np.float64)
    lo = values.min(axis=-1, keepdims=True)
    span = values.max(axis=-1, keepdims=True) - lo
    flat = span <= 1e-12 * np.maximum(1.0, np.abs(lo))
    scaled = 2.0 * (values - lo) / np.where(flat, 1.0, span) - 1.0
    return np.where(flat, np.sign(values), scaled)


def context_for_display(model, X) -> tuple[np.ndarray, np.ndarray]:
    """α and z of :func:`attention_summary`, resized to the series length, in [-1, 1]."""
    from ..models.attention import find_attention_layer

    X = np.asarray(X)
    return _display(find_attention_layer(model), model, X)


def _display(layer, model, X) -> tuple[np.ndarray, np.ndarray]:
    """:func:`context_for_display` with the model's attention LSTM ``layer`` found."""
    X = np.asarray(X)
    alpha, z = _summary(layer, model, X)
    length = X.shape[-1] if X.ndim == 2 else int(np.prod(X.shape[1:]))
    return rescale_symmetric(resize_linear(alpha, length)), rescale_symmetric(
        resize_linear(z, length)
    )


def parse_limit(value) -> int | None:
    """``"all"`` → None (every sample); else an integer >= 1."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"limit must be a positive integer or 'all', got {value!r}") from None
    if isinstance(value, bool) or limit < 1:
        raise ConfigError(f"limit must be a positive integer or 'all', got {value!r}")
    return limit


def _pick(y: np.ndarray, n_classes: int, classwise: bool, limit: int | None) -> list[np.ndarray]:
    """Sample indices per panel row: one row per class (classwise) or one row of all samples;
    the first ``limit`` of each in file order (all when None)."""
    if classwise:
        groups = [np.flatnonzero(y == k) for k in range(n_classes)]
    else:
        groups = [np.arange(len(y))]
    return [g if limit is None else g[:limit] for g in groups]


def _checked_attention(model, dataset, source):
    """The model's attention LSTM, after the clear errors for a model without one or for one
    of another dataset's shape; ``source`` (the CLI: the checkpoint's path) names the model in
    them when given."""
    from ..models.attention import find_attention_layer

    if source is None:
        layer = find_attention_layer(model)
        check_model_fits(model, dataset)
        return layer
    try:
        layer = find_attention_layer(model)
    except LstmfcnError:
        raise LstmfcnError(
            f"{source} has no attention LSTM (it is an LSTM-FCN): the context figure needs an "
            "ALSTM-FCN checkpoint"
        ) from None
    check_model_fits(model, dataset, source)
    return layer


def context_figure(
    model,
    dataset,
    classwise: bool = False,
    limit: int | str | None = 1,
    progress: bool | None = None,
    warn: Callable[[str], None] | None = None,
    chunk: int = 64,
    source: object = None,
):
    """Train and test panels of series with α and z (rescaled, resized) drawn under them.

    ``classwise``: one row of panels per class, at most ``limit`` samples per class; otherwise
    one row, at most ``limit`` samples per split. ``limit`` None or "all": every sample, with a
    warning above :data:`LARGE` samples and (unless ``progress`` is False) a progress bar on
    stderr. The figure carries :data:`CONTEXT_CAPTION`, which states that with the dimension
    shuffle the attention spans a single step (α ≡ 1, z = x) and that the ``shuffle: false``
    variant shows attention over timesteps. A model without an attention LSTM raises
    :class:`LstmfcnError`; ``source`` (the CLI: the checkpoint's path) names the model in that
    error and in the one for a model of another dataset's shape.
    """
    from matplotlib.lines import Line2D

    from .style import class_labels, model_display_name, new_figure, palette, style, wrap

    layer = _checked_attention(model, dataset, source)
    limit = parse_limit(limit)
    labels = class_labels(dataset)
    K, T = dataset.n_classes, dataset.length
    splits = {
        "train": (dataset.X_train, dataset.y_train),
        "test": (dataset.X_test, dataset.y_test),
    }
    picks = {s: _pick(np.asarray(y), K, classwise, limit) for s, (_, y) in splits.items()}
    total = sum(len(g) for groups in picks.values() for g in groups)
    if total == 0:
        raise LstmfcnError(f"{dataset.name}: no samples to draw")
    say = warn or (lambda m: print(m, file=sys.stderr, flush=True))
    if total > LARGE:
        say(
            f"warning: drawing the context of {total} samples of {dataset.name} "
            f"(more than {LARGE}); the figure may be slow to draw and hard to read"
        )
    bar = Progress(
        f"context {dataset.name}",
        total,
        limit is None if progress is None else progress,
        unit="items",
    )

    shown = {s: _contexts(layer, model, X, y, picks[s], bar, chunk) for s, (X, y) in splits.items()}
    bar.close()

    mode = _mode_text(model, T)
    rows = len(picks["train"])
    with style():
        colours = palette(max(K, 3))
        a_colour, z_colour = "0.1", "0.6"  # apart from the class colours
        fig = new_figure(11.0, 2.3 * rows + 2.0)
        top, bottom = fig.subfigures(2, 1, height_ratios=[2.3 * rows + 0.5, 1.1])
        _draw_panels(top, shown, labels, classwise, colours, (a_colour, z_colour), T)
        top.suptitle(
            f"{dataset.name} — attention context of {model_display_name(model)} "
            f"({'per class, ' if classwise else ''}"
            f"{'all samples' if limit is None else f'up to {limit} per panel'})"
        )
        handles = [
            Line2D([], [], color=a_colour, label="α (attention weights)"),
            Line2D([], [], color=z_colour, label="z (context)"),
        ]
        if not classwise and K <= 10:
            handles += [
                Line2D([], [], color=colours[k], label=f"class {labels[k]}") for k in range(K)
            ]
        bottom.legend(handles=handles, loc="upper right", fontsize=7, frameon=False)
        bottom.text(
            0.01,
            0.95,
            wrap(CONTEXT_CAPTION + "\n\n" + mode, 125),
            va="top",
            ha="left",
            fontsize=7.5,
            color="0.2",
        )
    return fig


def _contexts(layer, model, X, y, groups, bar, chunk: int) -> list[tuple[np.ndarray, ...]]:
    """(series, α, z, classes) of each group of sample indices of one split, computed in
    chunks of ``chunk`` samples so that the progress bar moves."""
    T = np.asarray(X).shape[1]
    out = []
    for group in groups:
        alphas, zs = [], []
        for lo in range(0, len(group), chunk):
            a, z = _display(layer, model, np.asarray(X)[group[lo : lo + chunk]])
            alphas.append(a)
            zs.append(z)
            bar.advance(len(group[lo : lo + chunk]))
        empty = np.zeros((0, T))
        out.append(
            (
                np.asarray(X, dtype=np.float64)[group],
                np.concatenate(alphas) if alphas else empty,
                np.concatenate(zs) if zs else empty,
                np.asarray(y)[group],
            )
        )
    return out


def _mode_text(model, T: int) -> str:
    """What the attention spans in this model, for the figure's caption."""
    if checkpoint_shape(model)[2]:  # the dimension shuffle
        return (
            "This model uses the dimension shuffle: one attention step, so α ≡ 1 and z = x "
            "(the lower curve z repeats the series)."
        )
    return (
        f"This model has no dimension shuffle: the attention spans all {T} timesteps; "
        "α is averaged over the recurrence steps."
    )


def _draw_panels(top, shown, labels, classwise: bool, colours, curve_colours, T: int) -> None:
    """One column per split, two axes per row: the series, then α and z under them."""
    from matplotlib.collections import LineCollection

    a_colour, z_colour = curve_colours
    rows = len(shown["train"])
    t = np.arange(T)
    grid = top.add_gridspec(2 * rows, 2, height_ratios=[1.6, 1.0] * rows)
    for col, split in enumerate(("train", "test")):
        for r, (series, alpha, z, classes) in enumerate(shown[split]):
            ax_s = top.add_subplot(grid[2 * r, col])
            ax_c = top.add_subplot(grid[2 * r + 1, col], sharex=ax_s)
            n = len(series)
            width = 1.2 if n <= 5 else 0.8 if n <= 50 else 0.4
            opacity = 1.0 if n <= 5 else 0.5 if n <= 50 else 0.2
            if n:
                segs = [np.column_stack([t, s]) for s in series]
                by_class = [colours[int(k)] for k in classes]
                ax_s.add_collection(
                    LineCollection(segs, colors=by_class, linewidths=width, alpha=opacity)
                )
                for values, c in ((alpha, a_colour), (z, z_colour)):
                    ax_c.add_collection(
                        LineCollection(
                            [np.column_stack([t, v]) for v in values],
                            colors=[c],
                            linewidths=width,
                            alpha=opacity,
                        )
                    )
                ax_s.autoscale_view()
            else:
                ax_s.text(0.5, 0.5, "no samples", ha="center", transform=ax_s.transAxes)
            ax_c.set_xlim(0, max(T - 1, 1))
            ax_c.set_ylim(-1.15, 1.15)
            ax_c.set_yticks([-1, 0, 1])
            ax_s.tick_params(labelbottom=False)
            what = f"class {labels[r]}" if classwise else "all classes"
            ax_s.set_title(f"{split}: {what} ({n} sample{'s' if n != 1 else ''})")
            if col == 0:
                ax_s.set_ylabel("series")
                ax_c.set_ylabel("α, z\n[-1, 1]")
            if r == rows - 1:
                ax_c.set_xlabel("time step")
