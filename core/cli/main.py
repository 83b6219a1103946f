"""The ``reelpick`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..app import Reelpick, data_path
from ..config import Config, load_config
from ..data import load_dataset
from ..data.fetch import fetch_dataset
from ..errors import ReelpickError
from ..registry import Registry
from ..render.contact_sheet import MAX_K
from ..types import Profile
from ..version import __version__
from .backup import cmd_backup, cmd_restore
from .bot import cmd_bot
from .cache import cmd_cache_info, cmd_cache_prune
from .catalogue import add_arguments as add_catalogue_arguments
from .catalogue import cmd_catalogue_sync
from .conventions import (
    EXIT_CODES_EPILOG,
    EXIT_ERROR,
    EXIT_NO_MATCH,
    EXIT_USAGE,
    MAX_SIMILAR_K,
    ArgumentParser,
    bounded_int,
    fit_with_progress,
)
from .evaluate import Task, cmd_evaluate
from .info import add_arguments as add_info_arguments
from .info import cmd_info
from .info import resolve as resolve_title
from .output import answers_json, format_answer, yes
from .posters import cmd_posters_fetch
from .recommend import add_arguments as add_recommend_arguments
from .recommend import cmd_recommend, format_picks, picks_for
from .show import cmd_show

log = logging.getLogger("reelpick")

DEMO_TITLES = ["Heat", "Toy Story", "The Matrix", "Amelie", "Lion King"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.ERROR
        if args.quiet
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "run", None) is None:  # no command, or a command group without its action
        getattr(args, "parser", parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config)
        config.usable_cache_dir()  # one line now, rather than a traceback from every fit
        return args.run(config, args) or 0
    except ReelpickError as exc:
        print(f"reelpick: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("reelpick: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="reelpick",
        description="Movie recommendations from plugins.",
        epilog=EXIT_CODES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $REELPICK_CONFIG, ./config.toml, "
        "then ~/.config/reelpick/config.toml)",
    )
    parser.add_argument("--version", action="version", version=f"reelpick {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="errors only: no warnings, no progress bars"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Callable[..., int] | None, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run, parser=sub)  # parser: whose help a bare group prints
        return sub

    similar = command("similar", cmd_similar, "movies similar to a title, from every plugin")
    similar.add_argument("title")
    similar.add_argument(
        "-k",
        type=bounded_int(1, MAX_SIMILAR_K),
        default=10,
        help=f"results per plugin, 1-{MAX_SIMILAR_K} (default 10)",
    )
    similar.add_argument("--plugin", action="append", help="ask only this plugin (repeatable)")
    similar.add_argument("--json", action="store_true", help="machine-readable output")

    recommend = command("recommend", cmd_recommend, "movies for a person, from every plugin")
    add_recommend_arguments(recommend)

    fit = command("fit", cmd_fit, "fit the enabled plugins (or load their cached fit)")
    fit.add_argument("--plugin", action="append", help="fit only this plugin (repeatable)")
    fit.add_argument("--json", action="store_true", help="machine-readable output")
    fit.add_argument("--engine", choices=["local", "spark"], help="default: [engine] name")

    plugins = command(
        "plugins", cmd_plugins, "list plugins: name, version, origin, enabled, fitted"
    )
    plugins.add_argument("--json", action="store_true")

    command("demo", cmd_demo, "fit on the configured data and show similar movies for a few titles")

    data = command("data", None, "MovieLens datasets").add_subparsers(
        title="data commands", metavar="ACTION"
    )
    fetch = data.add_parser("fetch", help="download an official GroupLens dataset")
    fetch.set_defaults(run=cmd_data_fetch)
    fetch.add_argument("name", nargs="?", default=None, help="dataset name (default: data.source)")
    fetch.add_argument("--url", help="download from this URL instead of GroupLens")
    fetch.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate = command(
        "evaluate",
        cmd_evaluate,
        "measure rating accuracy and similar-movie quality, or top-N recommendations",
    )
    evaluate.add_argument(
        "--task",
        choices=[task.value for task in Task],
        default=Task.RATING.value,
        help="rating: rating error and similar movies (default); topn: Recall/nDCG@10 of "
        "recommendations on a temporal split; groups: one list for synthetic groups; cold: "
        "movies whose ratings are held out",
    )
    evaluate.add_argument(
        "--tune",
        action="store_true",
        help="with --task topn: also derive the [picks] weights on a validation split; "
        "with --task groups: the [groups] settings",
    )
    evaluate.add_argument(
        "--groups", type=int, default=200, help="with --task groups: groups drawn (default 200)"
    )
    evaluate.add_argument(
        "--plugin", action="append", help="evaluate only this plugin (repeatable)"
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="random seed of the split (default 0)"
    )
    evaluate.add_argument(
        "--test-per-user", type=int, default=10, help="ratings per user moved to test"
    )
    evaluate.add_argument(
        "--folds", type=int, default=0, help="k-fold cross-validation instead (k >= 2)"
    )
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.add_argument("--chart", metavar="PNG", help="also draw a chart comparing the plugins")

    posters = command("posters", None, "movie posters (TMDB, offline folder, placeholders)")
    poster_actions = posters.add_subparsers(title="poster commands", metavar="ACTION")
    poster_fetch = poster_actions.add_parser(
        "fetch", help="download posters from TMDB into the cache"
    )
    poster_fetch.set_defaults(run=cmd_posters_fetch)
    poster_fetch.add_argument(
        "--limit", type=int, help="at most this many movies (most rated first)"
    )
    poster_fetch.add_argument(
        "--size", help="TMDB poster size, e.g. w185, w342 (default: posters.size)"
    )
    poster_fetch.add_argument("--json", action="store_true", help="machine-readable summary")

    show = command(
        "show", cmd_show, "draw a contact sheet: a title and its similar movies per plugin"
    )
    show.add_argument("title")
    show.add_argument(
        "-k",
        type=bounded_int(1, MAX_K),
        default=5,
        help=f"similar movies per plugin, 1-{MAX_K} (default 5)",
    )
    show.add_argument("-o", "--output", default="reelpick-show.png", help="PNG file to write")
    show.add_argument("--plugin", action="append", help="only this plugin (repeatable)")
    show.add_argument("--json", action="store_true", help="machine-readable summary")

    add_info_arguments(command("info", cmd_info, "what a movie is and where to watch it"))
    catalogue = command("catalogue", None, "movies beyond the rating data, from TMDB")
    catalogue_actions = catalogue.add_subparsers(title="catalogue commands", metavar="ACTION")
    catalogue_sync = catalogue_actions.add_parser(
        "sync", help="store recent and upcoming releases (resumable)"
    )
    catalogue_sync.set_defaults(run=cmd_catalogue_sync)
    add_catalogue_arguments(catalogue_sync)

    cache = command("cache", None, "what the cache holds; remove fits nothing uses")
    cache_actions = cache.add_subparsers(title="cache commands", metavar="ACTION")
    cache_info = cache_actions.add_parser("info", help="size per plugin and folder")
    cache_info.set_defaults(run=cmd_cache_info)
    cache_info.add_argument("--json", action="store_true", help="machine-readable output")
    cache_prune = cache_actions.add_parser(
        "prune",
        help="remove fits of other data, versions or parameters, and evaluation splits",
    )
    cache_prune.set_defaults(run=cmd_cache_prune)
    cache_prune.add_argument("--dry-run", action="store_true", help="only say what would go")
    cache_prune.add_argument("--json", action="store_true", help="machine-readable output")

    saving = command("backup", cmd_backup, "copy people's data (profiles, nights, settings)")
    saving.add_argument("dir", help="folder to write a timestamped backup into")
    saving.add_argument(
        "--keep",
        type=bounded_int(1, 10_000, "--keep"),
        help="backups to keep in DIR (state.backup_keep)",
    )
    saving.add_argument("--json", action="store_true", help="machine-readable output")
    restoring = command("restore", cmd_restore, "put a backup back (stop the bot first)")
    restoring.add_argument("dir", help="a backup folder, or the folder of backups (newest)")
    restoring.add_argument("--json", action="store_true", help="machine-readable output")

    bot = command("bot", cmd_bot, "run the Telegram bot (token from TELEGRAM_BOT_TOKEN)")
    bot.add_argument("--mode", choices=["polling", "webhook"], help="default: bot.mode")
    return parser


def cmd_similar(config: Config, args: argparse.Namespace) -> int:
    app = Reelpick.open(config, plugins=args.plugin)
    # Dataset and catalogue titles, and TMDB's when a key is set and no local title is sure.
    movie_id = resolve_title(app, args.title, as_json=args.json)
    if movie_id is None:
        return EXIT_NO_MATCH
    answers = app.similar(movie_id, args.k, args.plugin)
    if args.json:
        print(json.dumps(answers_json(app, movie_id, answers), indent=2))
    else:
        print(f"Similar to {app.movie_title(movie_id)}:\n")
        for answer in answers:
            print(format_answer(app, answer))
    return 0


def cmd_fit(config: Config, args: argparse.Namespace) -> int:
    if args.engine:
        # A new Config: its settings are parsed on first use, with this engine.
        engine = {**config.values["engine"], "name": args.engine}
        config = Config(values={**config.values, "engine": engine}, path=config.path)
    app = Reelpick.open(config, fit=False)
    results = fit_with_progress(app, args.plugin, quiet=args.quiet)
    engine_failure = next(
        (e for e in results.values() if e and e.startswith("EngineError: ")), None
    )
    if engine_failure:
        # The engine itself is unusable (no Java, no master): say so once, not per plugin.
        print(f"reelpick: {engine_failure.removeprefix('EngineError: ')}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        rows = [
            {"plugin": name, "ok": error is None, "error": error} for name, error in results.items()
        ]
        print(json.dumps(rows, indent=2))
    elif not args.quiet:
        for name, error in results.items():
            print(f"{name}: {'ok' if error is None else 'FAILED: ' + error}")
    return EXIT_ERROR if any(results.values()) else 0


def cmd_plugins(config: Config, args: argparse.Namespace) -> int:
    registry = Registry(config)
    fingerprint = None
    with contextlib.suppress(ReelpickError):
        fingerprint = load_dataset(data_path(config, fetch_missing=False))
    rows: list[dict[str, Any]] = []
    for name, plugin in registry.plugins.items():
        fitted = None
        if fingerprint is not None:
            fitted = registry.store_for(name, fingerprint).path.exists()
        rows.append(
            {
                "name": name,
                "label": plugin.info.label,
                "version": plugin.info.version,
                "origin": plugin.origin,
                "enabled": name in config.enabled_plugins,
                "fitted": fitted,
                "description": plugin.info.description,
            }
        )
    for failure in registry.failures:
        rows.append(
            {
                "name": failure.name,
                "origin": failure.origin,
                "error": failure.reason,
                "enabled": failure.name in config.enabled_plugins,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<16} {'version':<8} {'enabled':<8} {'fitted':<7} origin")
    for row in rows:
        if "error" in row:
            print(
                f"{row['name']:<16} {'-':<8} {yes(row['enabled']):<8} {'-':<7} {row['origin']}"
                f"  FAILED TO LOAD: {row['error']}"
            )
        else:
            shown = "?" if row["fitted"] is None else yes(row["fitted"])
            print(
                f"{row['name']:<16} {row['version']:<8} {yes(row['enabled']):<8} {shown:<7} {row['origin']}"
            )
    return 0


def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    app = Reelpick.open(config, fit=False)
    fit_with_progress(app, quiet=args.quiet)  # a plugin that fails shows its error in answers
    print(
        f"Data: {app.dataset.source} ({len(app.dataset.movies):,} movies, "
        f"{len(app.dataset.ratings):,} ratings)\n"
    )
    for title in DEMO_TITLES:
        found = app.search(title)
        if not found.candidates:
            continue
        movie_id = found.candidates[0].movie_id
        print(f"=== {title!r} -> {app.dataset.label(movie_id)}")
        for answer in app.similar(movie_id, 5):
            print(format_answer(app, answer))
    # And for a person: someone who loved the first three titles.
    loved = [c[0].movie_id for t in DEMO_TITLES[:3] if (c := app.search(t).candidates)]
    if loved:
        _, picks = picks_for(app, Profile(ratings=dict.fromkeys(loved, 5.0)), 5)
        names = ", ".join(app.dataset.label(m) for m in loved)
        print(f"=== For someone who loved {names}")
        print(format_picks(app, picks))
    return 0


def cmd_data_fetch(config: Config, args: argparse.Namespace) -> int:
    name = args.name or config.data_source
    path = fetch_dataset(
        name, config.data_dir, url=args.url, progress=False if args.quiet else None
    )
    if args.json:
        print(json.dumps({"dataset": name, "path": str(path)}))
    else:
        print(f"{name} is in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
