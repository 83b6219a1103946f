"""reelpick: a plugin-based movie recommender (this folder, core/, is the ``reelpick`` package).

Plugin authors need only what is exported here::

    from reelpick import hookimpl, Neighbour, PluginInfo, NoAnswer, NeighbourTable
"""

from .errors import ConfigError, DataError, NoAnswer, PluginError, ReelpickError
from .hookspecs import hookimpl
from .neighbours import NeighbourTable, topk_cosine_dense, topk_cosine_sparse
from .types import Neighbour, PluginAnswer, PluginInfo

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Neighbour",
    "NeighbourTable",
    "NoAnswer",
    "PluginAnswer",
    "PluginError",
    "PluginInfo",
    "ReelpickError",
    "hookimpl",
    "topk_cosine_dense",
    "topk_cosine_sparse",
]
