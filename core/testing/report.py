"""The contract kit's report: problems grouped by kind, the most serious first, each kind
with its count and one example (a plugin author acts on the first line, not on the 600th)."""

from __future__ import annotations

# Kinds of problem, most serious first: (kind, what the problem text says). A problem is of
# the first kind whose phrase it holds; the rest are "other".
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("returns the query movie", ("the query movie itself",)),
    ("returns movies it must not", ("an excluded movie", "in the profile")),
    ("an unknown id is not NoAnswer", ("not in the dataset, gave", "unknown user")),
    ("raises instead of answering", ("raised or returned", " raised ", "failed into")),
    ("answers movies not in the dataset", ("which is not in the dataset", "not a movie of")),
    (
        "wrong types",
        (
            "of type",
            "not reelpick.",
            "use a finite float",
            "returned None",
            "not a list of",
            "not PluginInfo",
            "TOML values",
            "expected one finite float",
        ),
    ),  # fmt: skip
    ("answers out of order", ("not sorted", "twice", "more than k", "is not the start of")),
    ("fits that are not cached or repeatable", ("cache", "differ")),
    ("plugin info and hooks", ("PluginInfo", "@hookimpl", "does not implement", "parameter")),
)


def kind_of(problem: str) -> tuple[int, str]:
    """(rank, kind) of one problem text: rank 0 is the most serious."""
    for rank, (kind, phrases) in enumerate(KINDS):
        if any(phrase in problem for phrase in phrases):
            return rank, kind
    return len(KINDS), "other"


def report_problems(name: str, label: str, problems: list[str]) -> str:
    """Every problem grouped by kind, most serious first: each kind with its count and one
    example, so that one repeated complaint cannot bury a serious one."""
    groups: dict[tuple[int, str], list[str]] = {}
    for problem in problems:
        groups.setdefault(kind_of(problem), []).append(problem)
    lines = [
        f"plugin {name!r} ({label}) breaks the reelpick plugin contract: "
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} of "
        f"{len(groups)} kind{'s' if len(groups) != 1 else ''}, most serious first:"
    ]
    for rank, kind in sorted(groups):
        found = groups[rank, kind]
        times = f" ({len(found)} times)" if len(found) > 1 else ""
        lines.append(f"  - {kind}{times}, e.g. {found[0]}")
    return "\n".join(lines)
