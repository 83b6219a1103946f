"""Small value types shared by the core, the plugins and the bot."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Neighbour:
    """One recommended movie and how similar the plugin thinks it is (higher is closer)."""

    movie_id: int
    score: float


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin says about itself in ``reelpick_plugin_info``."""

    label: str
    description: str
    version: str = "0"
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PluginAnswer:
    """One plugin's answer to a query: its neighbours, or why it has none.

    Exactly one of the three outcomes holds: ``neighbours`` (possibly empty),
    ``no_answer`` (an expected "I can't say for this movie"), or ``error``
    (the plugin failed; the traceback was logged).
    """

    plugin: str
    label: str
    neighbours: list[Neighbour] = field(default_factory=list)
    no_answer: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.no_answer is None

    def shortfall(self, with_error: bool = True) -> str | None:
        """Why this answer has no movies to show, worded for people; None when it has some.

        The one wording every front end uses (CLI table, contact sheet, bot). ``with_error``
        False leaves out the technical error text (the bot does not show it to chat members).
        """
        if self.error:
            detail = f" ({self.error})" if with_error else ""
            return f"{self.label} had a problem with this movie{detail}"
        if self.no_answer:
            return f"{self.label} has no suggestions for this movie: {self.no_answer}"
        if not self.neighbours:
            return f"{self.label} found no similar movies"
        return None
