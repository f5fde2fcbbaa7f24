"""Keras's BatchNormalization, trained with TensorFlow's fused kernel on the TF backend.

Keras 3 computes BN in training as separate ops (moments, then normalise), several passes
over (batch, T, channels) forward and more backward; on a CPU that was the largest cost of an
LSTM-FCN epoch after the convolutions (bench/README.md, "Where our epoch goes"). TensorFlow's
FusedBatchNormV3 does the same maths in one kernel each way.

Same maths as `keras.layers.BatchNormalization` (its subclass, same weights and config):
the output is normalised with the batch's biased variance in both. Only the moving-variance
update differs: the fused op returns the unbiased (Bessel-corrected) batch variance for it,
Keras uses the biased one, so it is scaled back by (m - 1) / m, m = batch × T. Inference, the
other backends, masks and other input ranks use Keras's own code.
"""

from __future__ import annotations

import keras
from keras import layers

from .gates import SERIALIZABLE_PACKAGE


@keras.saving.register_keras_serializable(package=SERIALIZABLE_PACKAGE)
class FusedBatchNormalization(layers.BatchNormalization):
    def _fused_applies(self, inputs, training, mask) -> bool:
        return (
            bool(training)
            and self.trainable
            and mask is None
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 3
            and self.axis in (-1, 2)
            and self.scale
            and self.center
            and not self.renorm
            and not self.synchronized
            and inputs.dtype == "float32"
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.expand_dims(inputs, 1)  # (batch, 1, T, C): the kernel wants NHWC
        empty = tf.constant([], dtype=tf.float32)
        y, mean, unbiased_var, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=self.gamma,
            offset=self.beta,
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        m = tf.cast(tf.shape(inputs)[0] * tf.shape(inputs)[1], tf.float32)
        # m = 1: the unbiased variance is 0/0 on cuDNN; the biased one is 0.
        variance = tf.where(m > 1.0, unbiased_var * (m - 1.0) / m, tf.zeros_like(unbiased_var))
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )
        return tf.squeeze(y, 1)


def batchnorm_layers(model) -> list:
    """The model's BatchNormalization layers, input side first."""
    return [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]


def _input_moments(model, layer, x, batch_size: int):
    """Exact mean and (biased) variance over rows and timesteps of ``layer``'s input, in
    inference mode, accumulated in float64 batch by batch (the inputs may not fit at once)."""
    import numpy as np

    probe = keras.Model(model.input, layer.input)
    total = square = None
    count = 0
    for start in range(0, len(x), batch_size):
        a = np.asarray(probe(x[start : start + batch_size], training=False), dtype=np.float64)
        a = a.reshape(-1, a.shape[-1])
        total = a.sum(0) if total is None else total + a.sum(0)
        square = (a * a).sum(0) if square is None else square + (a * a).sum(0)
        count += len(a)
    mean = total / count
    return mean, np.maximum(square / count - mean * mean, 0.0)


def recalibrate(model, x, batch_size: int = 256) -> list[float]:
    """Replace every BN layer's moving mean and variance by the exact statistics of its inputs
    over ``x`` (the training split, in the model's input layout) at the current weights, layer
    by layer from the input side (each layer's inputs depend on the ones before).

    The moving averages (momentum 0.99) lag a feature whose variance shrinks late in training;
    inference then normalises with a stale variance. Returns, per layer, the median over
    channels of old moving variance / exact variance (1.0: the moving statistics were right).
    Changes ``model`` in place; uses no test data."""
    import numpy as np

    ratios = []
    for layer in batchnorm_layers(model):
        mean, variance = _input_moments(model, layer, x, batch_size)
        old = np.asarray(layer.moving_variance, dtype=np.float64)
        ratios.append(float(np.median(old / np.maximum(variance, 1e-12))))
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(variance.astype("float32"))
    return ratios
