"""reelpick: a plugin-based movie recommender (this folder, core/, is the ``reelpick`` package).

A plugin needs only what is exported here, and the built-in plugins (reelpick.plugins)
import nothing else from reelpick, exactly as an external plugin must::

    from reelpick import hookimpl, PluginInfo, Neighbour, NoAnswer, NeighbourTable
    from reelpick import Need, POSTER_FEATURES, PosterFeatures  # what a fit takes from another
    from reelpick import Dataset, ArtifactStore, Config, PosterStore
    from reelpick import engine_for  # heavy fits on the configured engine (local or Spark)
    from reelpick import sgd  # SGD matrix factorisation, a model plugins train
    from reelpick import CatalogueReader, TMDBRecommendations  # movies and lists from TMDB
    from reelpick import models_allowed  # False where people wait: load no model there

Modules inside core never import from this package root (it imports most of core); they
import the module that defines a name. docs/architecture.md says where each job lives.
"""

from . import sgd
from .cache import ArtifactStore
from .catalogue.reader import CatalogueReader
from .catalogue.recommendations import TMDBRecommendations
from .config import Config, expand
from .data import Dataset
from .engine import Engine, engine_for
from .errors import ConfigError, DataError, EngineError, NoAnswer, PluginError, ReelpickError
from .hookspecs import hookimpl
from .models_here import models_allowed
from .neighbours import NeighbourTable, topk_cosine_dense, topk_cosine_sparse
from .posters import Poster, PosterStore
from .posters.tmdb import TMDBError, TMDBNotFound
from .products import POSTER_FEATURES, NewPosterFeatures, PosterFeatures
from .types import Need, Neighbour, NewMovie, PluginAnswer, PluginInfo, Profile, Recommendation
from .version import __version__

__all__ = [
    "ArtifactStore",
    "CatalogueReader",
    "Config",
    "ConfigError",
    "DataError",
    "Dataset",
    "Engine",
    "EngineError",
    "Need",
    "Neighbour",
    "NeighbourTable",
    "NewMovie",
    "NoAnswer",
    "POSTER_FEATURES",
    "PluginAnswer",
    "PluginError",
    "PluginInfo",
    "Poster",
    "NewPosterFeatures",
    "PosterFeatures",
    "PosterStore",
    "Profile",
    "Recommendation",
    "ReelpickError",
    "TMDBError",
    "TMDBNotFound",
    "TMDBRecommendations",
    "__version__",
    "engine_for",
    "expand",
    "hookimpl",
    "models_allowed",
    "sgd",
    "topk_cosine_dense",
    "topk_cosine_sparse",
]
