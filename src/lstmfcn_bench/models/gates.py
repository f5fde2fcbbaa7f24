"""The LSTM gate activation σ of i, f, o, and the choice between the authors' and Keras 3's.

The authors trained with Keras 2, whose LSTM defaulted to ``hard_sigmoid`` = clip(0.2·x + 0.5,
0, 1). Keras 3 changed two things: the LSTM default is now the logistic ``sigmoid``, and its
own ``hard_sigmoid`` has slope 1/6 (relu6(x + 3)/6), so neither matches the original; the
original is defined here.
"""

from __future__ import annotations

import keras
from keras import ops

#: The package name every custom Keras object of the project is registered under.
SERIALIZABLE_PACKAGE = "lstmfcn_bench"


# Registered under the name the attention LSTM's checkpoints have always stored.
@keras.saving.register_keras_serializable(package=SERIALIZABLE_PACKAGE)
def hard_sigmoid_legacy(x):
    """Keras 2's hard sigmoid, clip(0.2·x + 0.5, 0, 1): the original's recurrent activation."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


#: Gate name → activation: ``hard_sigmoid`` is the authors' (Keras 2's), ``sigmoid`` Keras 3's.
GATES = {"hard_sigmoid": hard_sigmoid_legacy, "sigmoid": keras.activations.sigmoid}
