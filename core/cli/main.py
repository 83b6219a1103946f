"""The ``reelpick`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..app import Reelpick, data_path
from ..config import Config, load_config
from ..data import load_dataset
from ..data.fetch import fetch_dataset
from ..errors import ReelpickError, UsageError
from ..registry import Registry
from ..render.contact_sheet import MAX_K
from ..version import __version__
from .backup import cmd_backup, cmd_restore
from .bot import cmd_bot
from .cache import cmd_cache_info, cmd_cache_prune
from .catalogue import add_arguments as add_catalogue_arguments
from .catalogue import cmd_catalogue_sync
from .check import cmd_check
from .conventions import (
    EXIT_CODES_EPILOG,
    EXIT_ERROR,
    EXIT_NO_MATCH,
    EXIT_USAGE,
    MAX_SIMILAR_K,
    ArgumentParser,
    add_global_options,
    bounded_int,
    global_options_parser,
    merge_global_options,
    quiet_broken_pipe,
)
from .demo import cmd_demo
from .fitting import fit_plugins, report_failures
from .info import add_arguments as add_info_arguments
from .info import cmd_info
from .info import resolve as resolve_title
from .output import answers_json, format_answer, yes
from .posters import cmd_posters_fetch
from .progress import install as install_progress
from .recommend import add_arguments as add_recommend_arguments
from .recommend import cmd_recommend
from .show import cmd_show
from .tune import HELP as TUNE_HELP
from .tune import add_tune_arguments, cmd_tune_lazily

log = logging.getLogger("reelpick")


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, while it can still be handled
    except BrokenPipeError:
        return quiet_broken_pipe()
    return code


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = merge_global_options(parser.parse_args(argv))
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
        # A command's warnings read like its other messages; the bot (a service) and -v keep
        # the time, level and source of each line.
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        if args.verbose or getattr(args, "run", None) is cmd_bot
        else "reelpick: %(message)s",
    )
    install_progress(args.quiet)
    if getattr(args, "run", None) is None:  # no command, or a command group without its action
        getattr(args, "parser", parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config)
        config.usable_cache_dir()  # one line now, rather than a traceback from every fit
        return args.run(config, args) or 0
    except UsageError as exc:  # a bad argument found after parsing: argparse's form and code
        command = getattr(getattr(args, "parser", None), "prog", "reelpick")
        print(f"{command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ReelpickError as exc:
        print(f"reelpick: {exc}", file=sys.stderr)
        if args.verbose:
            log.info("where it happened", exc_info=True)
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
    add_global_options(parser)
    parser.add_argument("--version", action="version", version=f"reelpick {__version__}")
    common = global_options_parser()
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Callable[..., int] | None, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(run=run, parser=sub)  # parser: whose help a bare group prints
        return sub

    def action(group: Any, name: str, run: Callable[..., int], help: str) -> Any:
        sub = group.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(run=run, parser=sub)  # parser: whose name a usage error starts with
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

    demo = command(
        "demo", cmd_demo, "fit on the configured data and show similar movies for a few titles"
    )
    demo.add_argument(
        "--all", action="store_true", help="also fit the poster plugins (minutes on a CPU)"
    )

    check = command(
        "check", cmd_check, "run the plugin contract kit on an installed plugin (for its author)"
    )
    check.add_argument("name", help="the plugin's name, as `reelpick plugins` lists it")
    check.add_argument(
        "--movies", type=bounded_int(20, 100_000, "--movies"), default=400,
        help="movies of the configured data to check on (default 400)",
    )  # fmt: skip
    check.add_argument(
        "-k", type=bounded_int(2, 100), default=10, help="answers asked for, 2-100 (default 10)"
    )

    data = command("data", None, "MovieLens datasets").add_subparsers(
        title="data commands", metavar="ACTION"
    )
    fetch = action(data, "fetch", cmd_data_fetch, "download an official GroupLens dataset")
    fetch.add_argument("name", nargs="?", default=None, help="dataset name (default: data.source)")
    fetch.add_argument("--url", help="download from this URL instead of GroupLens")
    fetch.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate = command(
        "evaluate",
        cmd_evaluate_lazily,
        "measure rating accuracy and similar-movie quality, or top-N recommendations",
    )
    evaluate.add_argument(
        "--task",
        choices=LazyChoices(evaluation_tasks),
        metavar="TASK",  # argparse would list the choices (and import them) at once
        default=None,
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
        "--protocol",
        choices=LazyChoices(topn_protocols),
        metavar="PROTOCOL",
        default=None,
        help="with --task topn: session (default; each test user's last session, started "
        ">= 24 h after their previous rating) or last10 (each user's 10 latest ratings)",
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

    add_tune_arguments(command("tune", cmd_tune_lazily, TUNE_HELP))

    posters = command("posters", None, "movie posters (TMDB, offline folder, placeholders)")
    poster_actions = posters.add_subparsers(title="poster commands", metavar="ACTION")
    poster_fetch = action(
        poster_actions, "fetch", cmd_posters_fetch, "download posters from TMDB into the cache"
    )
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
    catalogue_sync = action(
        catalogue_actions,
        "sync",
        cmd_catalogue_sync,
        "store recent and upcoming releases (resumable)",
    )
    add_catalogue_arguments(catalogue_sync)

    cache = command("cache", None, "what the cache holds; remove fits nothing uses")
    cache_actions = cache.add_subparsers(title="cache commands", metavar="ACTION")
    cache_info = action(cache_actions, "info", cmd_cache_info, "size per plugin and folder")
    cache_info.add_argument("--json", action="store_true", help="machine-readable output")
    cache_prune = action(
        cache_actions,
        "prune",
        cmd_cache_prune,
        "remove fits of other data, versions or parameters, and evaluation splits",
    )
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


class LazyChoices(Sequence[str]):
    """An option's choices, read from their module only when argparse checks a value or prints
    help: the evaluation's imports (SciPy's statistics) are half the start-up time of every
    other command."""

    def __init__(self, names: Callable[[], list[str]]) -> None:
        self._names = names

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())


def evaluation_tasks() -> list[str]:
    from .evaluate import Task

    return [task.value for task in Task]


def topn_protocols() -> list[str]:
    from ..evaluation.protocols import PROTOCOLS

    return list(PROTOCOLS)


def cmd_evaluate_lazily(config: Config, args: argparse.Namespace) -> int:
    from ..evaluation.protocols import DEFAULT_PROTOCOL
    from .evaluate import Task, cmd_evaluate

    args.task = Task(args.task) if args.task else Task.RATING  # the default: rating
    args.protocol = args.protocol or DEFAULT_PROTOCOL
    return cmd_evaluate(config, args)


def cmd_similar(config: Config, args: argparse.Namespace) -> int:
    app = Reelpick.open(config, fit=False)
    app.registry.enabled(args.plugin)  # an unknown --plugin is refused before anything else
    # Dataset and catalogue titles, and TMDB's when a key is set and no local title is sure.
    movie_id = resolve_title(app, args.title, as_json=args.json)
    if movie_id is None:
        return EXIT_NO_MATCH  # before any fit: a typo costs a second, not the fits
    report_failures(fit_plugins(app, args.plugin, quiet=args.quiet))
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
    outcomes = fit_plugins(app, args.plugin, quiet=args.quiet)
    engine_failure = next(
        (o.error for o in outcomes.values() if o.error and o.error.startswith("EngineError: ")),
        None,
    )
    if engine_failure:
        # The engine itself is unusable (no Java, no master): say so once, not per plugin.
        print(f"reelpick: {engine_failure.removeprefix('EngineError: ')}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        rows = [
            {"plugin": o.plugin, "ok": o.ok, "how": o.how, "seconds": round(o.seconds, 3),
             "error": o.error}
            for o in outcomes.values()
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
    elif not args.quiet:
        for o in outcomes.values():
            said = o.how if o.ok else f"FAILED: {o.error}"
            print(f"{o.plugin}: {said}")
    return EXIT_ERROR if any(not o.ok for o in outcomes.values()) else 0


def cmd_plugins(config: Config, args: argparse.Namespace) -> int:
    registry = Registry(config)
    fingerprint = None
    with contextlib.suppress(ReelpickError):
        fingerprint = load_dataset(data_path(config, fetch_missing=False), config.cache_dir)
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
