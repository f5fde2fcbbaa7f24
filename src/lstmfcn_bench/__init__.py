"""lstmfcn-bench: LSTM-FCN and ALSTM-FCN on the UCR archive, reproduced leak-free.

From Python: ``from lstmfcn_bench import LSTMFCNClassifier, ALSTMFCNClassifier, load_ucr``
(served lazily: importing the package imports neither Keras nor scikit-learn).
"""

import sys

__version__ = "0.1.0"

__all__ = ["ALSTMFCNClassifier", "LSTMFCNClassifier", "load_ucr"]

#: Where each public name lives (PEP 562: imported on first access).
_LAZY = {
    "LSTMFCNClassifier": "lstmfcn_bench.estimator",
    "ALSTMFCNClassifier": "lstmfcn_bench.estimator",
    "load_ucr": "lstmfcn_bench.data.loader",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


# --- the custom Keras objects of saved models --------------------------------------------------
# `keras.saving.load_model("x.keras")` needs every custom class a model holds registered first.
# Importing those modules imports Keras, which this package must not do on import: the CLI sets
# KERAS_BACKEND after importing it (`--engine jax`), and the Snakefile imports it on every parse.
# So: register now if Keras is already imported, else once Keras has finished importing.

#: The modules whose import registers every object the project saves (models/*.py).
_KERAS_MODULES = ("gates", "batchnorm", "attention", "losses")


def _register_keras_objects() -> None:
    import importlib

    for module in _KERAS_MODULES:
        importlib.import_module(f"{__name__}.models.{module}")


class _AfterKerasImport:
    """A one-shot ``sys.meta_path`` finder: it finds `keras` through the other finders and
    wraps its loader's ``exec_module`` so that the registration runs right after Keras's own
    ``__init__``; then it leaves ``sys.meta_path``."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        import importlib.util

        if self in sys.meta_path:
            sys.meta_path.remove(self)  # one shot; the search below must not come back here
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            try:
                _register_keras_objects()
            except Exception as e:  # never break `import keras` itself
                import warnings

                warnings.warn(
                    f"lstmfcn_bench could not register its Keras objects: {e}", stacklevel=2
                )

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    _register_keras_objects()
elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasImport())
