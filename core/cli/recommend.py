"""``reelpick recommend``: movies for a person, from a rating file, a local profile or a user
of the loaded MovieLens data; one block per plugin and the fused picks, or JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..app import Reelpick
from ..config import Config
from ..errors import ReelpickError
from ..profiles import FORMATS, ProfileStore, read_import
from ..profiles.model import ParsedImport
from ..state import WATCHLIST_FILE, prepare_state
from ..types import Neighbour, PluginAnswer, Profile, Recommendation
from ..watchlist import WatchlistStore, read_watchlist
from .conventions import EXIT_USAGE, MAX_RECOMMEND_K, bounded_int
from .fitting import fit_plugins, report_failures
from .messages import number, plural
from .output import fit_width

log = logging.getLogger(__name__)


@dataclass
class ProfileSummary:
    """Where the profile came from, as the JSON's ``profile`` object reports it."""

    rows: int
    matched: int
    unmatched: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"rows": self.rows, "matched": self.matched, "unmatched": self.unmatched}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ratings", metavar="FILE", help="a Letterboxd, IMDb or MovieLens CSV")
    source.add_argument(
        "--user", type=int, metavar="ID", help="a user of the loaded MovieLens data"
    )
    source.add_argument("--profile", metavar="NAME", help="a local profile saved with --save")
    parser.add_argument("--format", choices=FORMATS, help="format of --ratings (default: detect)")
    parser.add_argument(
        "--save", metavar="NAME", help="also keep the --ratings file as local profile NAME"
    )
    parser.add_argument(
        "--watchlist",
        metavar="FILE",
        help="a Letterboxd or IMDb watchlist: its movies are marked 🔖 (kept with --save)",
    )
    parser.add_argument(
        "-k",
        type=bounded_int(1, MAX_RECOMMEND_K),
        default=10,
        help=f"movies per plugin, 1-{MAX_RECOMMEND_K} (default 10)",
    )
    parser.add_argument("--plugin", action="append", help="ask only this plugin (repeatable)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_recommend(config: Config, args: argparse.Namespace) -> int:
    """``reelpick recommend (--ratings FILE [--save NAME] | --user ID | --profile NAME)``."""
    if not 1 <= args.k <= MAX_RECOMMEND_K:  # the parser checks too; this guards direct calls
        print(
            f"reelpick: -k must be between 1 and {MAX_RECOMMEND_K}, got {args.k}", file=sys.stderr
        )
        return EXIT_USAGE
    if args.save and not args.ratings:
        raise ReelpickError("--save keeps a --ratings file; give one")
    # Read the profile before fitting, so that a bad file is refused at once.
    app = Reelpick.open(config, plugins=args.plugin, fit=False)
    profile, summary = read_profile(app, args)
    listed, found = watchlisted(app, args)
    report_failures(fit_plugins(app, args.plugin, quiet=args.quiet))
    answers = app.recommend(profile, args.k, args.plugin)
    picks = app.picks(profile, args.k, answers=answers)
    if args.json:
        body = recommend_json(app, profile, summary, answers, picks, listed)
        if found is not None:
            body["watchlist"] = found.to_json()
        print(json.dumps(body, indent=2))
    else:
        text = format_recommendations(app, profile, summary, answers, picks, listed)
        if found is not None:
            text += _watchlist_rows(found)
        print(text)
    return 0


def read_profile(app: Reelpick, args: argparse.Namespace) -> tuple[Profile, ProfileSummary]:
    """The profile the arguments name, and how many rows it came from."""
    if args.user is not None:
        return user_profile(app, args.user)
    if args.profile is not None:
        with local_store(app.config) as store:
            profile = store.profile(f"local:{args.profile}")
        if not len(profile):
            raise ReelpickError(
                f"no local profile named {args.profile!r}; make one with "
                f"`reelpick recommend --ratings FILE --save {args.profile}`"
            )
        return profile, ProfileSummary(len(profile), len(profile))
    parsed = read_import(Path(args.ratings), app.movie_matcher(), format=args.format)
    summary = ProfileSummary(
        parsed.rows,
        parsed.matched_rows,
        [{"row": u.row, "reason": u.reason} for u in parsed.unmatched],
    )
    if args.save:
        with local_store(app.config) as store:
            owner = f"local:{args.save}"
            store.apply(owner, parsed)
            return store.profile(owner), summary
    return imported_profile(parsed), summary


def watchlisted(
    app: Reelpick, args: argparse.Namespace
) -> tuple[frozenset[int], ProfileSummary | None]:
    """Movies on the watchlist: the --watchlist file (kept as NAME's with --save), else the
    one stored for --profile NAME; and how the file's rows matched (None without a file)."""
    name = args.save or args.profile
    if args.watchlist:
        # Read as --ratings files are: a regular file only, never past the import limit.
        parsed = read_watchlist(Path(args.watchlist), app.movie_matcher(), named=True)
        summary = ProfileSummary(
            parsed.rows,
            parsed.rows - len(parsed.unmatched),
            [{"row": u.row, "reason": u.reason} for u in parsed.unmatched],
        )
        if name:
            prepare_state(app.config.settings)
            with WatchlistStore(app.config.settings.state.dir / WATCHLIST_FILE) as store:
                store.add_many(f"local:{name}", parsed.matched)
        return frozenset(m for m, _ in parsed.matched), summary
    if not name:
        return frozenset(), None
    prepare_state(app.config.settings)
    with WatchlistStore(app.config.settings.state.dir / WATCHLIST_FILE) as store:
        return frozenset(store.movies(f"local:{name}")), None


def user_profile(app: Reelpick, user_id: int) -> tuple[Profile, ProfileSummary]:
    ratings = app.dataset.ratings
    mine = ratings[ratings["userId"] == user_id]
    if mine.empty:
        raise ReelpickError(f"user {user_id} has no ratings in {app.dataset.source}")
    movies = mine["movieId"].astype(int)
    stars = dict(zip(movies, mine["rating"].astype(float), strict=True))
    rated_at = dict(zip(movies, mine["timestamp"].astype(float), strict=True))
    profile = Profile(ratings=MappingProxyType(stars), rated_at=MappingProxyType(rated_at))
    return profile, ProfileSummary(len(mine), len(stars))


def imported_profile(parsed: ParsedImport) -> Profile:
    """The profile an import file describes, without storing it: with the file's dates, as
    the stored profile would have them (``--save``)."""
    rows = parsed.matched
    rated_at = {
        r.movie_id: r.rated_at
        for r in rows
        if r.kind in ("rating", "seen") and r.rated_at is not None
    }
    return Profile(
        ratings=MappingProxyType(
            {r.movie_id: r.stars for r in rows if r.kind == "rating" and r.stars is not None}
        ),
        seen=frozenset(r.movie_id for r in rows if r.kind == "seen"),
        not_interested=frozenset(r.movie_id for r in rows if r.kind == "not_interested"),
        rated_at=MappingProxyType(rated_at),
    )


def local_store(config: Config) -> ProfileStore:
    """The command line's own profiles, in the bot's profile file (``[bot] profiles_db``,
    in the state folder), owners ``local:NAME``."""
    prepare_state(config.settings)
    return ProfileStore(config.settings.bot.profiles_db)


def _results(
    app: Reelpick, found: Sequence[Neighbour], listed: frozenset[int] = frozenset()
) -> list[dict[str, object]]:
    return [
        {
            "movie_id": n.movie_id,
            "label": app.movie_title(n.movie_id),
            "score": round(n.score, 6),
            "because": list(getattr(n, "because", ())),
            "on_watchlist": n.movie_id in listed,
        }
        for n in found
    ]


def recommend_json(
    app: Reelpick,
    profile: Profile,
    summary: ProfileSummary,
    answers: list[PluginAnswer],
    picks: list[Recommendation],
    listed: frozenset[int] = frozenset(),
) -> dict[str, object]:
    return {
        "profile": summary.to_json(),
        "plugins": [
            {
                "plugin": a.plugin,
                "label": a.label,
                "error": a.error,
                "no_answer": a.no_answer,
                "results": _results(app, a.neighbours, listed),
            }
            for a in answers
        ],
        "picks": _results(app, picks, listed),
        "picks_score": picks_score(app, profile),
    }


def picks_score(app: Reelpick, profile: Profile) -> str:
    """What a pick's score is (the README's "Personal recommendations" says the same)."""
    settings = app.settings.picks.for_profile(profile)
    if settings.calibration > 0:
        return (
            f"1/(rrf_k + rank) of the pick's place after the genre-calibrated re-rank "
            f"(rrf_k {settings.rrf_k:g}, calibration {settings.calibration:g})"
        )
    return f"weighted reciprocal rank fusion of the plugins' lists (rrf_k {settings.rrf_k:g})"


def format_recommendations(
    app: Reelpick,
    profile: Profile,
    summary: ProfileSummary,
    answers: list[PluginAnswer],
    picks: list[Recommendation],
    listed: frozenset[int] = frozenset(),
) -> str:
    size = plural(len(profile), "movie")
    lines = [f"Recommendations for a profile of {size}{_rows(summary)}:", ""]
    if not answers:
        lines += ["No enabled plugin recommends for a profile.", ""]
    for answer in answers:
        lines += _block(app, answer.label, answer.neighbours, _shortfall(answer), listed)
    if answers:
        title = "Picks (all plugins together)" if len(answers) > 1 else "Picks"
        lines += _block(app, title, picks, "no plugin had picks", listed)
    if listed:
        lines.append("🔖 on the watchlist")
    return "\n".join(lines).rstrip() + "\n"


def format_picks(app: Reelpick, picks: list[Recommendation]) -> str:
    """The fused picks as a block of the table (the demo shows them alone)."""
    return "\n".join(_block(app, "Picks (all plugins together)", picks, "no plugin had picks"))


def picks_for(
    app: Reelpick, profile: Profile, k: int
) -> tuple[list[PluginAnswer], list[Recommendation]]:
    """Every recommending plugin's answer for ``profile`` and the fused picks, as configured."""
    answers = app.recommend(profile, k)
    return answers, app.picks(profile, k, answers=answers)


def _rows(summary: ProfileSummary) -> str:
    if not summary.unmatched:
        return ""
    shown = "; ".join(f"row {u['row']}: {u['reason']}" for u in summary.unmatched[:3])
    more = f"; {number(len(summary.unmatched) - 3)} more" if len(summary.unmatched) > 3 else ""
    unmatched = number(len(summary.unmatched))
    return f" ({unmatched} of {plural(summary.rows, 'row')} not matched: {shown}{more})"


def _watchlist_rows(found: ProfileSummary) -> str:
    """``Watchlist: 1 of 2 rows found (row 3: ...)``, the way the bot reports an import."""
    line = f"Watchlist: {number(found.matched)} of {plural(found.rows, 'row')} found"
    if found.unmatched:
        shown = "; ".join(f"row {u['row']}: {u['reason']}" for u in found.unmatched[:3])
        more = f"; {number(len(found.unmatched) - 3)} more" if len(found.unmatched) > 3 else ""
        line += f" ({shown}{more})"
    return line + "\n"


def _shortfall(answer: PluginAnswer) -> str:
    if answer.error:
        return f"{answer.label} had a problem with this profile ({answer.error})"
    if answer.no_answer:
        return f"{answer.label} has no suggestions for this profile: {answer.no_answer}"
    return f"{answer.label} found nothing to suggest"


def _block(
    app: Reelpick,
    title: str,
    found: Sequence[Neighbour],
    shortfall: str,
    listed: frozenset[int] = frozenset(),
) -> list[str]:
    lines = [f"[{title}]"]
    if not found:
        lines.append(f"  {shortfall}")
    for rank, n in enumerate(found, 1):
        mark = " 🔖" if n.movie_id in listed else ""
        lines.append(
            f"  {rank:>2}. {fit_width(app.movie_title(n.movie_id), 60)} {n.score:7.3f}{mark}"
        )
        because = getattr(n, "because", ())
        if because:
            names = ", ".join(app.movie_title(m) for m in because)  # catalogue ones too
            lines.append(f"      because: {names}")
    return [*lines, ""]
