"""A model's input layout and saved checkpoints: what a trained model expects and how to feed it.

Series are stored as (n, T). The models take (n, 1, T) with the paper's dimension shuffle (the
whole series is one LSTM timestep), else (n, T, 1). Training, evaluation and the figures all
convert and check through here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import LstmfcnError


def model_input(X: np.ndarray, shuffle: bool) -> np.ndarray:
    """(n, T) → (n, 1, T) with the dimension shuffle, else (n, T, 1)."""
    X = np.asarray(X, dtype=np.float32)
    return X[:, None, :] if shuffle else X[:, :, None]


def load_checkpoint(path: Path):
    """Load a `.keras` file in safe mode (no arbitrary code), or say clearly why not."""
    import keras

    from . import attention, batchnorm, losses  # noqa: F401  (registers the custom classes)

    path = Path(path)
    if not path.is_file():
        raise LstmfcnError(f"no checkpoint at {path}")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise LstmfcnError(f"{path} is not a Keras .keras archive (corrupt or another format)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a broken archive
        why = " ".join(str(e).split())  # Keras's messages run over many lines: one line here
        raise LstmfcnError(f"cannot load checkpoint {path}: {type(e).__name__}: {why}") from None
    names = {layer.name for layer in model.layers}
    if "head" not in names or not ({"lstm", "attention_lstm"} & names):
        raise LstmfcnError(f"{path} is a Keras model but not an LSTM-FCN/ALSTM-FCN of this package")
    return model


def checkpoint_shape(model) -> tuple[int, int, bool]:
    """(series length, classes, dimension shuffle) that a loaded model expects."""
    shuffle = any(layer.name == "permute" for layer in model.layers)
    shape = model.input_shape
    length = shape[2] if shuffle else shape[1]
    return int(length), int(model.get_layer("head").units), shuffle


def check_model_fits(model, dataset, source: object = "the model") -> None:
    """A clear error when a checkpoint was trained for another series length or class count."""
    length, n_classes, _ = checkpoint_shape(model)
    if length != dataset.length or n_classes != dataset.n_classes:
        raise LstmfcnError(
            f"{source} expects series of length {length} with {n_classes} classes, but "
            f"{dataset.name} has length {dataset.length} and {dataset.n_classes} classes"
        )


def model_series_input(model, X) -> np.ndarray:
    """Series (n, T) → the model's input layout; an input already in that layout passes."""
    length, _, shuffle = checkpoint_shape(model)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 3 and tuple(X.shape[1:]) == tuple(model.input_shape[1:]):
        return X
    if X.ndim != 2 or X.shape[1] != length:
        raise LstmfcnError(
            f"model {model.name!r} expects series of length {length}, got an array of shape "
            f"{X.shape}"
        )
    return model_input(X, shuffle)


def predict_proba(model, X: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities (n, K) for series ``X`` (n, T)."""
    x = model_series_input(model, X)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
