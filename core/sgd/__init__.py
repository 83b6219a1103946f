"""SGD matrix factorisation: a building block that plugins train and fold people into.

``reelpick.sgd`` is part of the public plugin API (``from reelpick import sgd``): the
``sgd-mf`` plugin answers with it, and the ``hybrid`` plugin trains it on rated movies and
places unrated ones in its taste space. :mod:`.model` holds the model and its training,
:mod:`.fold_in` the placing of a new person, :mod:`.kernels` the numba loops under both.
"""

from .fold_in import FoldedUser, aligned, fold_in
from .model import DEFAULT_PARAMS, Factors, SimilarFrom, fit_factors, predict_pairs, train

__all__ = [
    "DEFAULT_PARAMS",
    "Factors",
    "FoldedUser",
    "SimilarFrom",
    "aligned",
    "fit_factors",
    "fold_in",
    "predict_pairs",
    "train",
]
