"""The poll's candidates: from the chat's seed titles, and from the joined members' profiles.

Seed titles (:meth:`Ballot.candidates`): every enabled plugin's ``per_seed`` neighbours of
every seed, asked within the bot's per-plugin time budget and fused by weighted reciprocal
rank fusion (:mod:`reelpick.fusion`).

Members (:meth:`Ballot.options`), computed at /vote time from the *live* profiles (so a
member who ``/forget``s mid-night is out of them at once): each joined member's picks from
every recommending plugin (``[groups] depth`` long, in a thread), aggregated by the
``[groups]`` strategy (:mod:`reelpick.groups`) with a prior: the chat's title seeds fused by
rank when there are any, otherwise the most rated movies. Left out: vetoed and /seen movies,
and, unless the night was opened with ``/movienight rewatch``, the chat's watch history and
every movie a joined member has rated or marked seen. The fairness rule then gives every
member with a profile at least one option from their own top ``fair_depth``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence

from reelpick.fusion import Fused, fuse, ranked_lists
from reelpick.settings import MovieNightSettings
from reelpick.types import Profile

from ..i18n import Translator
from ..rating_buttons import owner_of
from ..services import BotServices
from .catalogue import Catalogue
from .schema import Night
from .store import MovieNightStore
from .streaming import STRONG_MAX, Streaming
from .texts import OPTION_MAX_CHARS, esc, shorten

NAMES_SHOWN = 2  # "for Ann, Bob +1"

# A poll option as stored: (movie id, fused score, option text, whom it is for).
BallotOption = tuple[int, float, str, str | None]


class Ballot:
    """Chooses a night's poll options; reads the recommender and profiles from ``services``."""

    def __init__(
        self,
        services: BotServices,
        store: MovieNightStore,
        settings: MovieNightSettings,
        catalogue: Catalogue,
    ) -> None:
        self.services = services
        self.store = store
        self.settings = settings
        self.catalogue = catalogue
        self.streaming = Streaming(services)

    # -- the recommender's part: the one place each flow is asked for ----------------------
    def member_picks(self, profile: Profile, exclude: set[int], depth: int) -> list[int]:
        """One member's picks from every recommending plugin (runs in a thread)."""
        return [r.movie_id for r in self.catalogue.app.picks(profile, depth, exclude=exclude)]

    async def candidates(
        self, seeds: Sequence[int], exclude: set[int], limit: int | None = None
    ) -> list[Fused]:
        """Every enabled plugin's neighbours of every seed, fused (see :mod:`reelpick.fusion`)."""
        registry = self.catalogue.app.registry
        weights = self.settings.weights
        names = [
            n for n in registry.enabled() if registry.plugins[n].fitted and weights.get(n, 1.0) > 0
        ]
        k = self.settings.per_seed
        # In threads, within the bot's per-plugin time budget.
        calls = [self.services.ask(n, seed, k) for seed in seeds for n in names]
        answers = await asyncio.gather(*calls)
        lists = []
        for i, seed in enumerate(seeds):
            lists += ranked_lists(seed, answers[i * len(names) : (i + 1) * len(names)])
        return fuse(
            lists,
            weights=self.settings.weights,
            rrf_k=self.settings.rrf_k,
            exclude=exclude,
            limit=limit or self.settings.max_options,
        )

    # -- the poll options ------------------------------------------------------------------
    def _profile(self, user_id: int) -> Profile:
        return self.services.profiles.profile(owner_of(user_id))

    async def options(self, night: Night, _: Translator) -> tuple[list[BallotOption], list[str]]:
        """The poll options and lines for the chat (who they were picked for, who has no
        ratings), worded with ``_``."""
        settings = self.catalogue.app.settings.groups
        seeds = [s.movie_id for s in self.store.seeds(night.id)]
        members = self.store.members(night.id)
        profiles = await asyncio.to_thread(
            lambda: {m.user_id: self._profile(m.user_id) for m in members}
        )
        exclude = {e.movie_id for e in self.store.exclusions(night.id)}
        for profile in profiles.values():
            exclude |= profile.not_interested
            if not night.rewatch:
                exclude |= profile.movies
        if not night.rewatch:
            exclude |= set(self.store.watched(night.chat_id))
        rated = [m for m in members if profiles[m.user_id].ratings]
        limit = self.settings.max_options
        fused = await self.candidates(seeds, exclude | set(seeds), settings.depth) if seeds else []
        # Movies on several members' watchlists lead, and the chat's services may narrow.
        strong = self.streaming.shared_watchlist([m.user_id for m in members], exclude)
        strong = strong[:STRONG_MAX]
        keep = await asyncio.to_thread(
            self.streaming.keep_streaming,
            night.chat_id,
            [m for m, _n in strong] + [f.movie_id for f in fused],
        )
        on_lists = dict(strong)
        top = max((f.score for f in fused), default=1.0)
        scores = {f.movie_id: f.score for f in fused} | {m: top + n for m, n in strong}
        if not rated:
            chosen = keep[:limit]
            self._notes = await asyncio.to_thread(self.streaming.notes, night.chat_id, chosen)
            options: list[BallotOption] = [
                (m, scores[m], self._option_text(i, m), _lists(on_lists.get(m), _))
                for i, m in enumerate(chosen, 1)
            ]
            lines = []
            if members:
                lines.append(
                    _(
                        "Nobody who joined has rated movies yet, so the list comes from the titles alone."
                    )
                )
            return options, lines
        lists = await asyncio.gather(
            *(
                asyncio.to_thread(self.member_picks, profiles[m.user_id], exclude, settings.depth)
                for m in rated
            )
        )
        member_lists = {m.user_id: ranked for m, ranked in zip(rated, lists, strict=True)}
        prior = [f.movie_id for f in fused] or self.catalogue.popular(exclude, settings.depth)
        prior = list(dict.fromkeys([m for m, _n in strong] + prior))
        limited = bool(self.streaming.limited_to(night.chat_id))
        # The same function the evaluation scores (reelpick evaluate --task groups), so every
        # [groups] setting means here what it means there; the fairness rule included.
        picks = self.catalogue.app.group_picks(
            {m.user_id: profiles[m.user_id] for m in rated},
            limit * 3 if limited else limit,  # room to keep only what streams on our services
            prior=prior,
            exclude=exclude,
            personal=member_lists,
        )
        names = {m.user_id: m.user_name for m in members}
        whom = {p.movie_id: _for(p.members, names, _) for p in picks}
        scores |= {p.movie_id: p.score for p in picks}
        ids = [p.movie_id for p in picks]
        missing = [m for m, _n in strong if m not in ids and m in keep]
        if missing:  # strong candidates take the last places
            ids = ids[: max(0, limit - len(missing))] + missing
        ids = await asyncio.to_thread(self.streaming.keep_streaming, night.chat_id, ids)
        ids = ids[:limit]
        self._notes = await asyncio.to_thread(self.streaming.notes, night.chat_id, ids)
        options = [
            (m, scores[m], self._option_text(i, m), whom.get(m) or _lists(on_lists.get(m), _))
            for i, m in enumerate(ids, 1)
        ]
        served = ", ".join(esc(m.user_name) for m in rated)
        lines = [
            _("🎯 Picked for {names} from their ratings.", names=served),
            _(
                "Everyone who joined with ratings has at least one movie from their own top {depth} in this poll.",
                depth=settings.fair_depth,
            ),
        ]
        unrated = [esc(m.user_name) for m in members if not profiles[m.user_id].ratings]
        if unrated:
            lines.append(
                _(
                    "No ratings yet from {names}: /rate in a private chat with me.",
                    names=", ".join(unrated),
                )
            )
        return options, lines

    _notes: dict[int, str] = {}  # where each option streams, set just before the texts

    def _option_text(self, position: int, movie_id: int) -> str:
        note = self._notes.get(movie_id)
        title = f"{position}. {self.catalogue.label(movie_id)}"
        if not note:
            return shorten(title, OPTION_MAX_CHARS)
        note = " · 📺 " + note
        return shorten(title, OPTION_MAX_CHARS - len(note)) + note


def _lists(count: int | None, _: Translator) -> str | None:
    """ "on 2 watchlists" for a strong candidate, else None."""
    return _("on {count} watchlists", count=count) if count else None


def _for(members: Sequence[Hashable], names: dict[int, str], _: Translator) -> str | None:
    """Whom an option is for ("for Ann, Bob +1"), or None when it is for nobody in ``names``."""
    shown = [names[m] for m in members if isinstance(m, int) and m in names]
    if not shown:
        return None
    text = ", ".join(shown[:NAMES_SHOWN])
    if len(shown) > NAMES_SHOWN:
        text += f" +{len(shown) - NAMES_SHOWN}"
    return _("for {names}", names=text)
