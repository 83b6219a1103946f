"""sgd-MF: the plugin's import path (the code moved to ._sgd_model, to be split by job)."""

from ._sgd_model import DEFAULT_PARAMS, SgdMF, fit_factors, train

__all__ = ["DEFAULT_PARAMS", "SgdMF", "fit_factors", "train"]
