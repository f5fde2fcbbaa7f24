"""LSTM-FCN and ALSTM-FCN as scikit-learn classifiers, trained by the package's own loop.

``fit`` does what ``lstmfcn fetch`` + ``lstmfcn train`` do, in memory: the series get the
CLI's preprocessing (``data.preprocess.prepare_splits`` with ``normalise="series"``: each
series z-normalised over its own values, shorter ones zero-padded at the end), the labels are
encoded 0..K-1 in sorted order, and ``training.train`` runs the paper's protocol on an
in-memory :class:`~lstmfcn_bench.data.dataset.Dataset` (dimension shuffle, class weights
n / (K · count_k), the plateau schedule on the training loss, the weights of the epoch with
the minimum training loss kept) into a temporary folder, whose kept ``.keras`` model is loaded
back. ``predict`` applies the same preprocessing. Nothing is held out: ``fit`` sees only the
data it is given, so a test split stays unseen. Checking and preprocessing ``X`` and ``y`` are
estimator_input.py's.

Keras is imported on the first ``fit``/``predict``, not with this module, so the backend can
still be chosen (``KERAS_BACKEND``) after importing it.
"""

from __future__ import annotations

import inspect
import json
import numbers
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .data import splits
from .errors import ConfigError
from .estimator_input import check_series, encode_labels, preprocess, training_dataset
from .training.config import PAPER_EPOCHS

#: The member of a saved ``.keras`` archive that carries what Keras does not: the estimator's
#: class, parameters, classes and training record (Keras's loader ignores members it does not
#: know, so the file stays an ordinary checkpoint).
ESTIMATOR_MEMBER = "lstmfcn_estimator.json"
_FORMAT = 1
_CHECKPOINT = "model.keras"


def _signature_with(init, name: str, default, annotation, before: str) -> inspect.Signature:
    """``init``'s signature with one more keyword-only parameter ``name`` before ``before``."""
    signature = inspect.signature(init)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index(before)
    extra = inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )
    return signature.replace(parameters=[*params[:at], extra, *params[at:]])


class _LSTMFCNBase(ClassifierMixin, BaseEstimator):
    """What both classifiers share; the model they train is :meth:`_model_name`'s."""

    def __init__(
        self,
        *,
        cells: int = 8,
        epochs: int = PAPER_EPOCHS,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        patience: int = 100,
        min_delta: float = 1e-4,
        shuffle: bool = True,
        class_weight: str | None = "balanced",
        random_state=None,
        deterministic: bool = False,
        tf32: bool = False,
        verbose: int = 0,
    ):
        # scikit-learn's contract: __init__ stores each parameter as given and nothing else.
        vars(self).update((k, v) for k, v in locals().items() if k != "self")

    def _model_name(self) -> str:  # pragma: no cover - each subclass names its model
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Per-series z-normalisation (the paper's preprocessing) leaves a 2-value row of
        # scikit-learn's make_blobs check only the sign of x1 - x2: its 0.83 accuracy bar does
        # not apply to a series classifier (the tag keeps the rest of those checks running).
        tags.classifier_tags.poor_score = True
        return tags

    # --- fit / predict ----------------------------------------------------------------------

    def fit(self, X, y):
        """Train on series ``X`` (n, T), (n, 1, T), a wide DataFrame (one column per time
        step) or sktime's nested one-column DataFrame of pd.Series, with labels ``y`` of any
        type; returns self."""
        from .models.checkpoint import load_checkpoint
        from .training import train

        if self.class_weight not in ("balanced", None):
            raise ValueError(
                f"class_weight must be 'balanced' (the paper's n / (K * count_k)) or None "
                f"(unweighted), got {self.class_weight!r}"
            )
        verbose = _int_param("verbose", self.verbose, low=0)
        series = check_series(self, X, reset=True)
        classes, codes = encode_labels(self, y, len(series))
        X2 = preprocess(series, self.n_features_in_)
        config = self._config()
        try:
            config.validate()
        except ConfigError as e:
            raise ValueError(str(e)) from None

        from . import runtime

        runtime.configure(deterministic=bool(self.deterministic), tf32=bool(self.tf32))
        dataset = training_dataset(X2, series, classes, codes)
        log_every = 0 if verbose == 0 else 1 if verbose >= 2 else max(1, config.epochs // 10)
        say = lambda m: print(m, flush=True)  # noqa: E731
        if verbose:
            say(
                f"training {config.model} (cells {config.cells}, seed {config.seed}): "
                f"{len(codes)} series of length {X2.shape[1]}, {len(classes)} classes, "
                f"{config.epochs} epochs"
            )
        with tempfile.TemporaryDirectory(prefix="lstmfcn-") as tmp:
            result = train(dataset, config, Path(tmp) / _CHECKPOINT, log=say, log_every=log_every)
            self.model_ = load_checkpoint(result.model_path)
        if verbose:
            say(
                f"done: kept epoch {result.best_epoch} (train loss {result.best_loss:.5f}), "
                f"{result.epochs_run} epochs in {result.seconds:.1f}s"
            )
        self.classes_ = classes
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_loss_ = result.best_loss
        self.n_iter_ = result.epochs_run
        self.train_info_ = result.info
        self.__dict__.pop("split_", None)  # a released model's, refitted here: no longer its
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, K), columns in the order of ``classes_``."""
        from .models.checkpoint import predict_proba

        check_is_fitted(self)
        X2 = preprocess(check_series(self, X, reset=False), self.n_features_in_)
        return predict_proba(self.model_, X2).astype(np.float64)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each series, as one of ``classes_``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # --- the run's settings -----------------------------------------------------------------

    def _config(self):
        from .training import TrainConfig

        epochs = _as_int(self.epochs)
        return TrainConfig(
            model=self._model_name(),
            cells=_as_int(self.cells),
            epochs=epochs,
            batch_size=_as_int(self.batch_size),
            learning_rate=float(_number_param("learning_rate", self.learning_rate)),
            seed=self._seed(),
            plateau_patience=_as_int(self.patience),
            plateau_min_delta=float(_number_param("min_delta", self.min_delta)),
            shuffle=_bool_param("shuffle", self.shuffle),
            # No resume states: the run lives in a temporary folder for one call.
            checkpoint_every=max(1, epochs) if isinstance(epochs, int) else 1,
            tf32=_bool_param("tf32", self.tf32),
            class_weighted=self.class_weight == "balanced",
        )

    def _seed(self) -> int:
        """``random_state`` as the run's seed: an int is the seed itself (as ``lstmfcn train
        --seed``), a RandomState draws one, None draws a fresh one (not from NumPy's global
        state, which every run reseeds with its own seed)."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state must be >= 0, got {rs}")
            return int(rs)
        if rs is None:
            return int(np.random.default_rng().integers(np.iinfo(np.int32).max))
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    # --- pickling and files -----------------------------------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "model_" in state:
            state["model_"] = _model_bytes(state["model_"])  # the weights travel with it
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("model_"), bytes):
            state["model_"] = _model_from_bytes(state["model_"])
        super().__setstate__(state)

    def save(self, path) -> Path:
        """Write the fitted classifier to ``path`` (``.keras``): the Keras model as the
        package's checkpoint loader (``lstmfcn cam``) and ``keras.saving.load_model`` read it,
        plus a ``lstmfcn_estimator.json`` member with the classes, parameters and training
        record."""
        from .atomic import atomic_target

        check_is_fitted(self)
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"the file must end in .keras, got {path}")
        record = {
            "format": _FORMAT,
            "estimator": type(self).__name__,
            "params": {k: _jsonable(v) for k, v in self.get_params().items()},
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "O",
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": getattr(self, "feature_names_in_", np.array([])).tolist(),
            "best_epoch": int(self.best_epoch_),
            "best_loss": float(self.best_loss_),
            "n_iter": int(self.n_iter_),
            "history": self.history_,
            "train_info": self.train_info_,
            # from_released's: whose train and test its numbers are (None: fitted here)
            "split": getattr(self, "split_", None),
        }
        try:
            text = json.dumps(record, indent=2)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"cannot save: the classes {self.classes_!r} are not JSON values ({e}); "
                "pickle the classifier instead"
            ) from None
        with atomic_target(path) as tmp:
            self.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(ESTIMATOR_MEMBER, text)
        return path

    @classmethod
    def load(cls, path):
        """A classifier written by :meth:`save`, ready to predict."""
        from .models.checkpoint import load_checkpoint

        path = Path(path)
        model = load_checkpoint(path)  # a clear error for a missing or foreign file
        with zipfile.ZipFile(path) as zf:
            if ESTIMATOR_MEMBER not in zf.namelist():
                raise ValueError(
                    f"{path} is a checkpoint without classifier metadata (no {ESTIMATOR_MEMBER}"
                    f"): it was not written by {cls.__name__}.save"
                )
            record = json.loads(zf.read(ESTIMATOR_MEMBER))
        if record.get("format") != _FORMAT:
            raise ValueError(f"{path}: unknown classifier file format {record.get('format')!r}")
        if record["estimator"] != cls.__name__:
            raise ValueError(
                f"{path} holds a {record['estimator']}; load it with {record['estimator']}.load"
            )
        est = cls(**record["params"])
        dtype = object if record["classes_dtype"] == "O" else np.dtype(record["classes_dtype"])
        est.classes_ = np.array(record["classes"], dtype=dtype)
        est.n_features_in_ = record["n_features_in"]
        if record["feature_names_in"]:
            est.feature_names_in_ = np.array(record["feature_names_in"], dtype=object)
        est.best_epoch_ = record["best_epoch"]
        est.best_loss_ = record["best_loss"]
        est.n_iter_ = record["n_iter"]
        est.history_ = record["history"]
        est.train_info_ = record["train_info"]
        if record.get("split") is not None:
            est.split_ = record["split"]
        est.model_ = model
        return est

    @classmethod
    def from_released(cls, dataset: str, seed: int = 0, records="reproduction"):
        """The released model of ``dataset`` (``reproduction/weights/``, the run the table
        selects for ``seed``), as a fitted classifier with the paper's preprocessing: no
        training, the very weights behind the published record. ``split_`` says whose train
        and test it was trained and tested on (``load_ucr(dataset, "test", archive=est.split_)``
        gives its test series): ``"2015"``, the paper's, or ``"2018"``, the archive's files."""
        from .errors import LstmfcnError
        from .models.checkpoint import checkpoint_shape
        from .results.weights import released_run

        try:
            record, model, history = released_run(cls._model_name(cls()), dataset, seed, records)
        except LstmfcnError as e:
            raise ValueError(str(e)) from None
        config = record["train_config"]
        est = cls(
            cells=config["cells"],
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            learning_rate=config["learning_rate"],
            patience=config["plateau_patience"],
            min_delta=config["plateau_min_delta"],
            shuffle=config["shuffle"],
            random_state=seed,
        )
        est.classes_ = np.array(record["classes"], dtype=object)
        est.n_features_in_ = checkpoint_shape(model)[0]
        est.best_epoch_, est.best_loss_ = record["best_epoch"], record["train_loss"]
        est.n_iter_, est.history_ = record["epochs_run"], history
        est.train_info_, est.model_ = record["train_info"], model
        est.split_ = splits.of_run(config)
        return est


class LSTMFCNClassifier(_LSTMFCNBase):
    """LSTM-FCN (Karim et al., 2017) with the paper's training protocol, as a scikit-learn
    classifier.

    Parameters are the paper's by default: ``cells`` LSTM units (the paper trains 8, 64 and
    128), ``epochs`` 2000, ``batch_size`` 128, Adam at ``learning_rate`` 1e-3 reduced by 1/∛2
    after ``patience`` epochs without a training-loss improvement of ``min_delta``, the
    dimension shuffle (``shuffle``: the whole series is one LSTM timestep), class weights
    (``class_weight="balanced"``; ``None`` trains an unweighted loss, not the paper's).
    ``gate``: the LSTM's recurrent activation, the authors' Keras 2 ``"hard_sigmoid"`` or
    Keras 3's ``"sigmoid"`` (the ``lstmfcn_sigmoid`` model). ``random_state``: an int is the
    run's seed (``lstmfcn train --seed``); None draws one. ``deterministic``: deterministic
    ops (bit-identical refits on a CPU; process-wide once set, as ``--deterministic``).
    ``tf32``: allow TF32 maths on GPUs. ``verbose``: 0 silent, 1 ten progress lines, 2 one per
    epoch.

    Fitted: ``classes_``, ``n_features_in_`` (the series length), ``model_`` (the Keras model
    with the kept weights), ``best_epoch_`` and ``best_loss_`` (the kept epoch, 1-based, and its
    training loss), ``history_`` (one dict per epoch: epoch, loss, accuracy, lr, seconds),
    ``n_iter_`` (epochs run) and ``train_info_`` (the run's ``_train.json`` record).
    """

    def __init__(self, *, gate: str = "hard_sigmoid", **params):
        super().__init__(**params)
        self.gate = gate

    # scikit-learn reads an estimator's parameters from its __init__'s signature and refuses
    # **kwargs, so the signature is declared: the base's parameters (their one home) and gate.
    __init__.__signature__ = _signature_with(
        _LSTMFCNBase.__init__, "gate", "hard_sigmoid", str, before="random_state"
    )

    def _model_name(self) -> str:
        models = {"hard_sigmoid": "lstmfcn", "sigmoid": "lstmfcn_sigmoid"}
        if self.gate not in models:
            raise ValueError(f"gate must be 'hard_sigmoid' or 'sigmoid', got {self.gate!r}")
        return models[self.gate]


class ALSTMFCNClassifier(_LSTMFCNBase):
    """ALSTM-FCN (Karim et al., 2017): LSTM-FCN with the attention LSTM, as a scikit-learn
    classifier. Parameters and fitted attributes as :class:`LSTMFCNClassifier`'s, without
    ``gate`` (the attention LSTM keeps the authors' hard sigmoid)."""

    def _model_name(self) -> str:
        return "alstmfcn"


# --- helpers ------------------------------------------------------------------------------------


def _as_int(value):
    """numpy integers as int (the run record is JSON); anything else as given, for
    TrainConfig.validate to refuse."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _int_param(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _number_param(name: str, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return value


def _bool_param(name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _jsonable(value):
    """A parameter as saved: JSON values as they are, anything else (a RandomState) as None."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


def _model_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="lstmfcn-") as tmp:
        path = Path(tmp) / _CHECKPOINT
        model.save(path)
        return path.read_bytes()


def _model_from_bytes(data: bytes):
    from .models.checkpoint import load_checkpoint

    with tempfile.TemporaryDirectory(prefix="lstmfcn-") as tmp:
        path = Path(tmp) / _CHECKPOINT
        path.write_bytes(data)
        return load_checkpoint(path)


__all__ = ["ALSTMFCNClassifier", "LSTMFCNClassifier"]
