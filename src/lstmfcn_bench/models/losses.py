"""The training loss: class-weighted cross-entropy as a registered, serialisable Keras loss."""

from __future__ import annotations

import keras

from .gates import SERIALIZABLE_PACKAGE


@keras.saving.register_keras_serializable(package=SERIALIZABLE_PACKAGE)
class ClassWeightedCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy times the class weight of each sample's label.

    The same value as Keras's ``fit(class_weight=...)`` (sum of w·CE divided by the batch
    size), but inside the loss, so the accuracy metric stays the plain, unweighted accuracy.
    """

    def __init__(self, weights=(), name="class_weighted_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = [float(w) for w in weights]

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        table = ops.convert_to_tensor(self.class_weights, dtype=ce.dtype)
        return ce * ops.take(table, y_true)

    def get_config(self):
        return {**super().get_config(), "weights": self.class_weights}
