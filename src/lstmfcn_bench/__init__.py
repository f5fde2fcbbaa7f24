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


class _OnFirstImport:
    """A ``sys.meta_path`` finder for module ``name``: it finds the module through the other
    finders and replaces its loader's ``exec_module`` with ``wrap(exec_module)``; it leaves
    ``sys.meta_path`` when the module is executed (a mere ``importlib.util.find_spec`` check
    does not use it up)."""

    def __init__(self, name: str, wrap):
        self.name, self.wrap, self._searching = name, wrap, False

    def find_spec(self, name, path=None, target=None):
        if name != self.name or self._searching:
            return None
        import importlib.util

        self._searching = True  # the search below must not come back here
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._searching = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        wrapped = self.wrap(spec.loader.exec_module)

        def exec_once(module):
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            wrapped(module)

        spec.loader.exec_module = exec_once
        return spec


def _then_register(exec_module):
    def exec_then_register(module):
        exec_module(module)
        try:
            _register_keras_objects()
        except Exception as e:  # never break `import keras` itself
            import warnings

            warnings.warn(f"lstmfcn_bench could not register its Keras objects: {e}", stacklevel=2)

    return exec_then_register


# --- TensorFlow's start-up chatter --------------------------------------------------------------
# Importing TensorFlow writes absl's "before InitializeLog" warning and oneDNN's notice straight
# to file descriptor 2, whatever TF_CPP_MIN_LOG_LEVEL says; they bury the progress lines of the
# CLI and the estimator. Unless the user had set TF_CPP_MIN_LOG_LEVEL when this package was
# imported (then TensorFlow logs as they asked; JAX sets it too, later, on its own), that import
# runs with fd 2 on /dev/null, and TensorFlow's later INFO lines are off (level 1: its warnings,
# such as GPU libraries it cannot load, still show).
_USER_TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in __import__("os").environ


def _quietly(exec_module):
    def exec_quietly(module):
        import os

        if _USER_TF_LOG_LEVEL:
            return exec_module(module)
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no stderr to quieten (closed, or not a file)
            return exec_module(module)
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
            exec_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)

    return exec_quietly


if "keras" in sys.modules:
    _register_keras_objects()
elif not any(isinstance(f, _OnFirstImport) and f.name == "keras" for f in sys.meta_path):
    sys.meta_path.insert(0, _OnFirstImport("keras", _then_register))
if "tensorflow" not in sys.modules and not any(
    isinstance(f, _OnFirstImport) and f.name == "tensorflow" for f in sys.meta_path
):
    sys.meta_path.insert(0, _OnFirstImport("tensorflow", _quietly))
