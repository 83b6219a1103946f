"""The hooks a reelpick plugin can implement.

A plugin is an object (usually a class instance) with methods marked ``@hookimpl``.
Every hook here is called on one plugin at a time, so a plugin never sees another
plugin's results and one plugin's failure never hides another's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .cache import ArtifactStore
    from .config import Config
    from .data import Dataset
    from .types import Neighbour, NewMovie, PluginInfo, Profile, Recommendation

hookspec = pluggy.HookspecMarker("reelpick")
hookimpl = pluggy.HookimplMarker("reelpick")


@hookspec(firstresult=True)
def reelpick_plugin_info() -> PluginInfo | None:
    """Describe the plugin: label, description, version, default parameters, needs, products.

    firstresult: the plugin's own answer is used. The version and the parameters
    (defaults overlaid with config.toml) key the plugin's cache.
    """


@hookspec(firstresult=True)
def reelpick_fit(
    dataset: Dataset,
    params: dict[str, Any],
    store: ArtifactStore,
    config: Config,
    needs: Mapping[str, object],
) -> None:
    """Learn from ``dataset``, or load what an earlier fit saved in ``store``.

    ``store`` is private to this plugin and already keyed by the data fingerprint,
    the plugin's version and ``params``: whatever is found there is valid for this
    dataset. ``config`` gives access to shared settings (posters, cache folder); most
    plugins leave it out of their signature. ``needs`` maps each product the plugin
    declared in ``PluginInfo.needs`` (and switched on) to what its provider handed over
    (see :mod:`reelpick.products`); plugins without needs leave it out too. Called once
    before any ``reelpick_similar``, after the fits of the plugins it needs.
    """


@hookspec(firstresult=True)
def reelpick_provide(product: str) -> object:
    """Hand over ``product``, one of the names this plugin lists in ``PluginInfo.provides``.

    Called by the registry after this plugin's fit, once for each plugin that needs the
    product; the object must satisfy the product's protocol in :mod:`reelpick.products`.
    Return None (or leave the hook out) for a product this plugin does not provide.
    """


@hookspec(firstresult=True)
def reelpick_similar(movie_id: int, k: int) -> list[Neighbour] | None:
    """Return up to ``k`` movies similar to ``movie_id``, best first.

    Never include ``movie_id`` itself. Raise :class:`reelpick.NoAnswer` with a reason
    when the movie is outside this plugin's index. Must be a lookup: no fitting here.
    """


@hookspec(firstresult=True)
def reelpick_similar_new(movie: NewMovie, k: int) -> list[Neighbour] | None:
    """Return up to ``k`` movies similar to ``movie``, which is not in the dataset (a
    catalogue movie, no ratings), best first: movies of the dataset, and other catalogue
    movies (:class:`reelpick.CatalogueReader`) where the plugin ranks them.

    Optional: for plugins that can place a movie from its content (genres, year, keywords).
    Must be a lookup plus a little arithmetic, never a refit. Raise :class:`reelpick.NoAnswer`
    when its content tells the plugin nothing. Where :func:`reelpick.models_allowed` is
    False (the bot's plugin threads) load no model: answer from what is stored, or say why
    not; a plugin that compares pictures is asked in the image worker, where it may.
    """


@hookspec(firstresult=True)
def reelpick_predict(user_id: int, movie_ids: list[int]) -> list[float] | None:
    """Predict the rating ``user_id`` would give each of ``movie_ids``.

    Optional: plugins that do not predict ratings leave it out (or return None).
    Used by ``reelpick evaluate``.
    """


@hookspec(firstresult=True)
def reelpick_recommend(
    profile: Profile, k: int, exclude: frozenset[int]
) -> list[Recommendation] | None:
    """Recommend up to ``k`` movies for the person whose taste ``profile`` describes, best first.

    Optional, like ``reelpick_predict``. ``exclude`` holds every movie that must not be
    returned (it already contains ``profile.movies``). Each :class:`Recommendation` may name in
    ``because`` the profile movies that drove it. Raise :class:`reelpick.NoAnswer` with a
    reason when the profile tells this plugin nothing (e.g. none of its movies are in the
    plugin's index). Must be fast (a lookup or a fold-in, never a refit): a front end calls
    it while a person waits.
    """


@hookspec(firstresult=True)
def reelpick_similar_image(image: bytes, k: int) -> list[Neighbour] | None:
    """Return up to ``k`` movies whose posters look most like ``image``, best first: movies
    of the dataset, and catalogue movies (:class:`reelpick.CatalogueReader`) whose posters
    the plugin has seen.

    Optional: for plugins that compare pictures. ``image`` is the encoded bytes of any
    picture (a photo of a poster, a screenshot), already checked to be a decodable image of a
    sane size. Scores must mean the same across calls (a cosine, say), so that a front end
    can set a confidence threshold on them. Unlike the other queries this may load a model
    (seconds, hundreds of MB) on its first call: front ends call it in a worker process
    (:mod:`reelpick.imagesearch`), never in a process that answers people. Raise
    :class:`reelpick.NoAnswer` with a reason when the picture tells the plugin nothing.
    """
