"""``reelpick demo``: similar movies for a few well-known titles, then picks for someone who
loved three of them, on the configured data.

The first answer comes from one plugin, fitted alone first (the first enabled one that
is already cached, else the first that exchanges no products with others); the other
plugins are fitted after it has been printed. Plugins that hand products to each other (the
poster plugins: VGG16 features of every poster take minutes on a CPU) are fitted in the demo
only when their cache is already there, or with ``--all``; the demo says how to add them.
"""

from __future__ import annotations

import argparse

from ..app import Reelpick
from ..config import Config
from ..types import Profile
from .fitting import fit_plugins, report_failures
from .messages import plural
from .output import format_answer
from .recommend import format_picks

DEMO_TITLES = ["Heat", "Toy Story", "The Matrix", "Amelie", "Lion King"]
LOVED = 3  # the first titles the demo's person loved


def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    app = Reelpick.open(config, fit=False)
    enabled = app.registry.enabled()
    heavy = [] if getattr(args, "all", False) else [n for n in enabled if _heavy(app, n)]
    light = [n for n in enabled if n not in heavy]
    data = app.dataset
    print(
        f"Data: {data.source} ({plural(len(data.movies), 'movie')}, "
        f"{plural(len(data.ratings), 'rating')})\n",
        flush=True,
    )
    movies = {t: c[0].movie_id for t in DEMO_TITLES if (c := app.search(t).candidates)}
    if not movies or not enabled:
        print("No demo title is in this dataset, or no plugin is enabled.")
        return 0
    first_title, first_movie = next(iter(movies.items()))
    first = _first_plugin(app, light or enabled)
    report_failures(fit_plugins(app, [first], quiet=args.quiet, stage="fit first"))
    print(f"=== {first_title!r} -> {data.label(first_movie)}", flush=True)
    print(format_answer(app, app.registry.ask(first, first_movie, 5)), flush=True)

    rest = [n for n in light if n != first]
    report_failures(fit_plugins(app, rest, quiet=args.quiet, stage="fit the rest"))
    ready = [n for n in enabled if app.registry.plugins[n].fitted]
    for answer in app.similar(first_movie, 5, [n for n in ready if n != first]):
        print(format_answer(app, answer))
    for title, movie_id in list(movies.items())[1:]:
        print(f"=== {title!r} -> {data.label(movie_id)}")
        for answer in app.similar(movie_id, 5, ready):
            print(format_answer(app, answer))
    loved = list(movies.values())[:LOVED]
    profile = Profile(ratings=dict.fromkeys(loved, 5.0))
    answers = app.recommend(profile, 5, ready)
    picks = app.picks(profile, 5, answers=answers)
    print(f"=== For someone who loved {', '.join(data.label(m) for m in loved)}")
    print(format_picks(app, picks))
    if heavy:
        print(
            f"Not fitted in the demo: {', '.join(heavy)} (poster features, minutes on a CPU). "
            "`reelpick fit` adds them (`reelpick demo --all` waits for them)."
        )
    return 0


def _products(app: Reelpick, name: str) -> bool:
    info = app.registry.plugins[name].info
    return bool(info.provides or app.registry.needs(name))


def _cached(app: Reelpick, name: str) -> bool:
    return (app.registry.store_for(name, app.dataset).path / "manifest.json").exists()


def _heavy(app: Reelpick, name: str) -> bool:
    """A plugin of a product exchange (poster features) whose fit is not cached yet."""
    return _products(app, name) and not _cached(app, name)


def _first_plugin(app: Reelpick, names: list[str]) -> str:
    """The plugin to answer first: one already cached, else one exchanging no products."""
    return next(
        (n for n in names if _cached(app, n)),
        next((n for n in names if not _products(app, n)), names[0]),
    )
