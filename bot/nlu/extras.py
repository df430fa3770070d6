"""Optional dependencies of the NLU: serving needs numpy only, training needs the ``train`` extra.

A trained archive holds vocabularies and coefficients as plain arrays, and inference recomputes what
scikit-learn would (see :mod:`bot.nlu.components.classifiers` and ``featurizers``), so loading a model
and parsing never import scikit-learn or scipy. Fitting a model (``bot train``, ``bot run`` without a
model, ``bot test nlu``) does; without them the command fails with :class:`TrainingUnavailableError`.
"""

from __future__ import annotations

from bot.errors import ConfigError

TRAIN_EXTRA = "pip install '.[train]'"


class TrainingUnavailableError(ConfigError):
    """scikit-learn (the ``train`` extra) is not installed but a model has to be trained or evaluated."""


def require_training_extra(what: str = "training an NLU model") -> None:
    """Raise :class:`TrainingUnavailableError` unless scikit-learn and scipy can be imported."""
    try:
        import scipy.sparse  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as e:
        raise TrainingUnavailableError(
            f"{what} needs scikit-learn, which is not installed (the serving install has no training "
            f"dependencies): run `{TRAIN_EXTRA}`, or copy a trained model archive "
            "(models/nlu-*.tar.gz, e.g. from `bot train` on another machine) into models/"
        ) from e
