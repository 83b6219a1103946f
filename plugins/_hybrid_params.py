"""hybrid's parameters: the defaults ``[plugins.hybrid]`` overrides, and their checks."""

from __future__ import annotations

from typing import Any

from reelpick import PluginError

from ._hybrid_model import Model

MODELS = [model.value for model in Model]
DEFAULT_PARAMS: dict[str, Any] = {
    "min_ratings": 10,  # movies with at least this many ratings teach the map
    # Tags (found on the most movies) used as TF-IDF features; 0: none. A new movie has no
    # tags, so a map taught on tagged movies misplaces it: bench/tune_hybrid_tags.py chose 0 on
    # validation cold movies (RMSE 0.8877 vs 0.9050 with 300, ml-latest-small).
    "tag_terms": 0,
    "posters": True,  # use the poster features of vgg16-poster (fitted first; see PluginInfo.needs)
    # "ridge", "mlp", or "auto" (the better on validation movies). Default ridge: auto chose it
    # on ml-latest-small (validation RMSE 0.8394 vs the MLP's 0.8432), and it fits in seconds.
    "model": "ridge",
    "validation_share": 0.1,  # share of the map's training movies held out to choose
    "mlp_hidden": 128,  # hidden units of the MLP candidate
    "mlp_epochs": 60,  # most MLP epochs (the best on validation is kept)
    "seed": 0,  # validation split, MLP initialisation
    "neighbours": 50,  # width of the stored similar-movie table
    # Similar movies are drawn from movies with this many ratings (their place is measured,
    # not guessed); every movie with content still gets similar movies. 0: from all movies.
    "similar_min_ratings": 40,
    # Similar movies of a movie without ratings (a new release, a catalogue movie) by genres,
    # release year, audience size, title words and the mapped taste
    # (plugins/_hybrid_unrated.py); chosen by bench/tune_hybrid_unrated.py on validation
    # movies inside the training data.
    "unrated_year_weight": 10.0,
    "unrated_year_scale": 20.0,
    "unrated_audience_weight": 1.0,
    "unrated_title_weight": 6.0,
    "unrated_taste_weight": 0.5,
    "unrated_pool": 5,  # ratings a rated movie needs to be among them
    "fold_in_reg": 3.0,  # ridge penalty when placing a person (and in choosing c)
    "catalogue": False,  # also recommend catalogue movies (placed from content; no refit)
    "sgd_factors": 100,  # SGD-MF's factors, epochs and ensemble (its defaults; tests use less)
    "sgd_epochs": 100,
    "sgd_ensemble": 5,
}


def check_params(params: dict) -> None:
    """A value out of range is refused with the parameter's name (before any work)."""
    checks = [
        (params["model"] in MODELS, f"model must be one of {', '.join(MODELS)}"),
        (params["min_ratings"] >= 1, "min_ratings must be at least 1"),
        (params["tag_terms"] >= 0, "tag_terms must be 0 or more"),
        (0 < params["validation_share"] < 0.5, "validation_share must be in (0, 0.5)"),
        (params["mlp_hidden"] >= 1 and params["mlp_epochs"] >= 1, "MLP sizes must be >= 1"),
        (params["neighbours"] >= 1, "neighbours must be at least 1"),
        (params["similar_min_ratings"] >= 0, "similar_min_ratings must be 0 or more"),
        (params["fold_in_reg"] > 0, "fold_in_reg must be positive"),
        (params["unrated_year_scale"] > 0, "unrated_year_scale must be positive"),
        (
            min(params[f"unrated_{k}_weight"] for k in ("year", "audience", "title", "taste")) >= 0,
            "unrated_*_weight must be 0 or more",
        ),
        (params["unrated_pool"] >= 0, "unrated_pool must be 0 or more"),
        (min(params[k] for k in ("sgd_factors", "sgd_epochs", "sgd_ensemble")) >= 1, "sgd_* >= 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise PluginError(f"[plugins.hybrid] {message}")
