"""Models of other libraries, trained in the same workflow as the paper's on the same data: the
extension point for any classifier that is not one of the package's Keras networks.

A baseline is a scikit-learn-style classifier (``fit(X, y)``, ``predict(X)``) built for one
seed. It trains on the prepared training split (the paper's preprocessing, as the Keras models
see it), is saved whole with joblib, and is evaluated by the same code as the Keras models
(results/evaluation.py). The paper's protocol (epochs, cells, batch size, the plateau schedule)
does not apply to it: its hyper-parameters are its library's defaults, recorded per run.

To add one, write a function ``(seed, threads) -> classifier``, and one that sets the CPU
threads a fitted classifier predicts with, and list them in :data:`BASELINES` with its display name, the library whose version decides its numbers, and
the bake-off column it is compared with (CONTRIBUTING.md, "A model of another library").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Baseline:
    #: The model's name in configs, on the command line and in run file names.
    name: str
    #: Its name in tables and figures.
    display: str
    #: The distribution that implements it (its version is recorded with every run), and the
    #: extra of this package that installs it.
    library: str
    extra: str
    #: ``(seed, threads) -> classifier``: an unfitted scikit-learn-style classifier.
    build: Callable[[int, int], object]
    #: ``(fitted classifier, threads) -> None``: predict with ``threads`` CPU threads (a
    #: library may fix them at fit; evaluation runs in a job of its own size).
    use_threads: Callable[[object, int], None]
    #: Its column in the 2023 bake-off's table (results/reference.py), where it has one.
    bakeoff: str | None = None


def _minirocket(seed: int, threads: int):
    # aeon's defaults (10,000 kernels, 32 dilations per kernel, ridge regression with
    # cross-validated alpha on standardised features), as the 2023 bake-off ran it.
    from aeon.classification.convolution_based import MiniRocketClassifier

    return MiniRocketClassifier(random_state=seed, n_jobs=threads)


def _minirocket_threads(classifier, threads: int) -> None:
    # aeon copies n_jobs at fit into the transform it builds (_transformer._n_jobs), which
    # its prediction reads; set_params would change only the unfitted parameter.
    for part in (classifier, getattr(classifier, "_transformer", None)):
        if part is not None:
            part.n_jobs = part._n_jobs = threads


#: Every baseline, by name.
BASELINES: dict[str, Baseline] = {
    "minirocket": Baseline(
        name="minirocket",
        display="MiniRocket",
        library="aeon",
        extra="minirocket",
        build=_minirocket,
        use_threads=_minirocket_threads,
        bakeoff="MiniROCKET",
    ),
}


def is_baseline(model: str) -> bool:
    return model in BASELINES
