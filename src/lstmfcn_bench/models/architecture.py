"""LSTM-FCN and ALSTM-FCN (Karim et al., 2017) as Keras 3 functional models.

One builder per model, reading top to bottom like the paper's figure. Layers are named after
their role ("lstm"/"attention_lstm", "conv1".."relu3", "gap", "concat", "head") so the CAM and
context code find them by name, not position.

Input "series": (1, T) with the dimension shuffle (the paper: the whole series is one timestep
of T features, so the LSTM runs a single step), else (T, 1).

Keras is imported by the builders, not with this module, so the architecture's constants can
be read (the cost model reads :data:`CONV_BLOCKS`) without importing Keras.
"""

from __future__ import annotations

import functools
import numbers
from typing import TYPE_CHECKING

import numpy as np

from .. import settings
from ..errors import ConfigError
from ..runs import KERAS_NAME, MODELS

if TYPE_CHECKING:
    import keras

LSTM_DROPOUT = 0.8
#: (filters, kernel size) of the three conv blocks of the FCN branch.
CONV_BLOCKS = ((128, 8), (256, 5), (128, 3))


def _check(length, n_classes, cells, shuffle) -> tuple[int, int, int]:
    if not isinstance(shuffle, bool):
        raise ConfigError(f"shuffle must be true or false, got {shuffle!r}")
    for what, value, low in (("length (series length T)", length, 1), ("n_classes", n_classes, 2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ConfigError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(length), int(n_classes), settings.check_int("cells", cells, "cells (LSTM units)")


def _fcn_branch(series, shuffle: bool):
    """Branch B: three conv blocks over (T, 1), then global average pooling."""
    from keras import layers

    from .batchnorm import FusedBatchNormalization

    x = layers.Permute((2, 1), name="permute")(series) if shuffle else series
    for block, (filters, kernel_size) in enumerate(CONV_BLOCKS, start=1):
        x = layers.Conv1D(
            filters,
            kernel_size,
            padding="same",
            kernel_initializer="he_uniform",
            name=f"conv{block}",
        )(x)
        # Keras's BN maths; TensorFlow's fused kernel in training (batchnorm.py).
        x = FusedBatchNormalization(name=f"bn{block}")(x)
        x = layers.Activation("relu", name=f"relu{block}")(x)
    return layers.GlobalAveragePooling1D(name="gap")(x)


def _build(recurrent, name, length, n_classes, shuffle) -> keras.Model:
    import keras
    from keras import layers

    shape = (1, length) if shuffle else (length, 1)
    series = keras.Input(shape=shape, name="series")
    lstm_features = layers.Dropout(LSTM_DROPOUT, name="lstm_dropout")(recurrent(series))
    conv_features = _fcn_branch(series, shuffle)
    # LSTM features first: conv_features_and_head relies on this order.
    features = layers.Concatenate(name="concat")([lstm_features, conv_features])
    probabilities = layers.Dense(n_classes, activation="softmax", name="head")(features)
    return keras.Model(series, probabilities, name=name)


def lstm_fcn(
    length: int, n_classes: int, cells: int = 8, shuffle: bool = True, gate: str = "hard_sigmoid"
) -> keras.Model:
    """LSTM-FCN: LSTM(cells) → Dropout(0.8) beside the FCN branch, concatenated, softmax.

    ``gate`` is the LSTM's recurrent activation (gates.py): the authors' ``hard_sigmoid`` by
    default; ``sigmoid`` builds the ``lstmfcn_sigmoid`` variant, under its own graph name.
    """
    from keras import layers

    from .gates import GATES

    length, n_classes, cells = _check(length, n_classes, cells, shuffle)
    if gate not in GATES:
        raise ConfigError(f"unknown LSTM gate {gate!r}; choose one of: {', '.join(GATES)}")
    lstm = layers.LSTM(cells, recurrent_activation=GATES[gate], name="lstm")
    name = KERAS_NAME["lstmfcn" if gate == "hard_sigmoid" else "lstmfcn_sigmoid"]
    return _build(lstm, name, length, n_classes, shuffle)


def alstm_fcn(length: int, n_classes: int, cells: int = 8, shuffle: bool = True) -> keras.Model:
    """ALSTM-FCN: as LSTM-FCN with the attention LSTM (inert α ≡ 1 when shuffle=True)."""
    from .attention import AttentionLSTM

    length, n_classes, cells = _check(length, n_classes, cells, shuffle)
    recurrent = AttentionLSTM(cells, name="attention_lstm")
    return _build(recurrent, KERAS_NAME["alstmfcn"], length, n_classes, shuffle)


_BUILDERS = {
    "lstmfcn": lstm_fcn,
    "alstmfcn": alstm_fcn,
    "lstmfcn_sigmoid": functools.partial(lstm_fcn, gate="sigmoid"),
}


def build_model(
    name: str, length: int, n_classes: int, cells: int = 8, shuffle: bool = True
) -> keras.Model:
    """The model called ``name`` (one of :data:`lstmfcn_bench.runs.MODELS`)."""
    try:
        builder = _BUILDERS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None
    return builder(length, n_classes, cells=cells, shuffle=shuffle)


def conv_features_and_head(model: keras.Model):
    """What the class activation map needs: ``(feature_model, W_conv, b)``.

    ``feature_model`` maps the input to the last conv block's output f (n, T, 128), after
    BN+ReLU. ``W_conv`` (128, K) are the rows of the head's kernel that multiply the conv
    features — the LAST rows, since the concat puts the LSTM features first — and ``b`` (K,)
    is the head's bias. So mean_t(f) @ W_conv is the conv branch's contribution to the logits.
    """
    import keras

    try:
        relu3 = model.get_layer("relu3")
        head = model.get_layer("head")
    except ValueError as error:
        raise ConfigError(
            f"model {model.name!r} is not an (A)LSTM-FCN built by lstmfcn_bench: {error}"
        ) from None
    feature_model = keras.Model(model.input, relu3.output, name=f"{model.name}_conv_features")
    kernel, bias = head.kernel.numpy(), head.bias.numpy()
    n_conv = relu3.output.shape[-1]
    return feature_model, np.asarray(kernel[-n_conv:]), np.asarray(bias)
