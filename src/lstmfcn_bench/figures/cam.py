"""Class activation maps (Zhou et al., 2016) for LSTM-FCN and ALSTM-FCN — done correctly.

For class c, ``CAM_c(t) = Σ_k w[k, c] · f_k(t)``: ``f`` is the last conv block's output (relu3,
after BN+ReLU, shape (T, 128)) and ``w`` are the rows of the head's kernel that multiply the
*conv* features. The concat puts the LSTM features first, so those are the LAST 128 rows (the
original code took the first ones, which mixes the LSTM's rows in). Because the head sees the
global average of ``f``, the time-mean of ``CAM_c`` is exactly the conv branch's contribution to
the logit of class c; the logit is that plus the LSTM part plus the bias. Raw CAMs are returned;
:func:`normalise_for_display` rescales them for plotting only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, LstmfcnError
from ..models.checkpoint import check_model_fits, model_series_input, predict_proba


def class_activation_maps(model, X, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(cams, conv_logits)`` for series ``X`` (n, T) (or already in the model's input layout).

    ``cams`` (n, K, T): ``cams[i, c, t] = Σ_k W_conv[k, c] · f_k(t)`` for sample i.
    ``conv_logits`` (n, K): ``Σ_k W_conv[k, c] · mean_t f_k(t)``, the conv branch's part of the
    pre-softmax logits — equal to ``cams.mean(axis=-1)``. Not normalised.
    """
    from ..models.architecture import conv_features_and_head

    feature_model, w_conv, _ = conv_features_and_head(model)
    x = model_series_input(model, X)
    features = np.asarray(feature_model.predict(x, batch_size=batch_size, verbose=0))
    features = features.astype(np.float64)  # (n, T, 128)
    w = w_conv.astype(np.float64)  # (128, K)
    cams = np.einsum("ntk,kc->nct", features, w)
    conv_logits = features.mean(axis=1) @ w
    return cams, conv_logits


def normalise_for_display(cams: np.ndarray) -> np.ndarray:
    """Min–max of each map along time to [0, 1] (a flat map → 0.5). For display only."""
    cams = np.asarray(cams, dtype=np.float64)
    lo = cams.min(axis=-1, keepdims=True)
    span = cams.max(axis=-1, keepdims=True) - lo
    flat = span <= np.finfo(np.float64).tiny
    return np.where(flat, 0.5, (cams - lo) / np.where(flat, 1.0, span))


def select_samples(y: np.ndarray, class_index: int, limit: int | None) -> np.ndarray:
    """The first ``limit`` (all when None) indices of class ``class_index``, in file order."""
    idx = np.flatnonzero(np.asarray(y) == class_index)
    return idx if limit is None else idx[:limit]


def cam_figure(
    model,
    dataset,
    classes: Sequence[str] | None = None,
    samples: int = 1,
    split: str = "train",
    source: object = "the model",
):
    """One panel per class: ``samples`` series of that class (first in file order) drawn as a
    line coloured by the class's CAM, normalised per series; predicted and true class in the
    title; one colour bar. ``classes`` are class labels as in ``dataset.classes`` (default all).
    ``source`` (the CLI: the checkpoint's path) names the model in the error for a model of
    another dataset's shape.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    from .style import (
        CAM_CMAP,
        class_labels,
        grid_shape,
        model_display_name,
        new_figure,
        resolve_classes,
        style,
    )

    check_model_fits(model, dataset, source)
    if isinstance(samples, bool) or int(samples) < 1:
        raise ConfigError(f"samples must be >= 1, got {samples!r}")
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    X = dataset.X_train if split == "train" else dataset.X_test
    y = dataset.y_train if split == "train" else dataset.y_test
    labels = class_labels(dataset)
    wanted = resolve_classes(dataset, classes)
    chosen = {c: select_samples(y, c, int(samples)) for c in wanted}
    every = np.concatenate([chosen[c] for c in wanted]).astype(np.int64)
    if every.size == 0:
        raise LstmfcnError(f"{dataset.name} has no {split} series of the chosen classes")
    cams, _ = class_activation_maps(model, X[every])
    predicted = predict_proba(model, X[every]).argmax(axis=1)
    position = {int(i): row for row, i in enumerate(every)}

    norm = Normalize(0.0, 1.0)
    rows, cols = grid_shape(len(wanted))
    t = np.arange(dataset.length)
    with style():
        fig = new_figure(6.2 * cols + 0.8, 1.75 * rows + 0.7)
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
        for ax in axes.flat[len(wanted) :]:
            ax.set_visible(False)
        for ax, c in zip(axes.flat, wanted, strict=False):
            preds = []
            for i in chosen[c]:
                row = position[int(i)]
                series = np.asarray(X[i], dtype=np.float64)
                cam = normalise_for_display(cams[row, c])
                points = np.column_stack([t, series])
                segments = np.stack([points[:-1], points[1:]], axis=1)
                colours = (cam[:-1] + cam[1:]) / 2 if len(cam) > 1 else cam
                lines = LineCollection(segments, cmap=CAM_CMAP, norm=norm, linewidths=2.0)
                lines.set_array(colours)
                ax.add_collection(lines)
                preds.append(labels[int(predicted[row])])
            ax.autoscale_view()
            shown = ", ".join(preds) if len(preds) <= 6 else ", ".join(preds[:6]) + ", …"
            ax.set_title(f"CAM of class {labels[c]} — true {labels[c]}, predicted {shown}")
            ax.grid(True, linewidth=0.5)
        for col in range(cols):  # the lowest drawn panel of each column gets the time axis
            last = axes[min(rows, (len(wanted) - col + cols - 1) // cols) - 1, col]
            last.tick_params(labelbottom=True)
            last.set_xlabel("time step")
        for ax in axes[:, 0]:
            ax.set_ylabel("value")
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=CAM_CMAP),
            ax=axes,
            label="CAM, min–max per series (low → high)",
            shrink=0.9 if rows > 1 else 1.0,
            aspect=30 if rows > 2 else 15,
        )
        per = "1 series" if samples == 1 else f"up to {samples} series"
        fig.suptitle(
            f"{dataset.name} — class activation maps, {model_display_name(model)} "
            f"({split} split, {per} per class)"
        )
    return fig
