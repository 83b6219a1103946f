"""Title search: a free-text query -> ranked MovieLens movies.

Titles and queries are reduced to the same normal form (lower case, no accents or
punctuation, no leading English article), each alternative title in parentheses becomes
an alias of its movie, and a year in the query narrows the match. Exact aliases are a
dict lookup; everything else goes to rapidfuzz.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from .data import Dataset, split_title

MAX_QUERY = 200
_YEAR_IN_QUERY = re.compile(r"(?:^|\s|\()((?:18[89]|19\d|20\d)\d)\)?\s*$")
_ALSO_KNOWN = re.compile(r"^(?:a\.k\.a\.|aka|also known as)\s+", re.IGNORECASE)
_ARTICLES = ("the ", "a ", "an ")


@dataclass(frozen=True)
class Candidate:
    movie_id: int
    label: str  # "The Matrix (1999)"
    score: float  # 0-100, higher is closer


@dataclass(frozen=True)
class SearchResult:
    query: str
    candidates: list[Candidate]
    confident: bool  # True when candidates[0] is clearly the movie meant

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.confident else None


def normalise(text: str) -> str:
    """``"Matrix, The"`` and ``"the matrix!"`` -> ``"matrix"``; ``"Amélie"`` -> ``"amelie"``."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ").replace("'", "")
    text = re.sub(r"[^\w]+", " ", text).strip()
    for article in _ARTICLES:
        if text.startswith(article):
            text = text[len(article) :]
            break
    return text


def aliases(title: str) -> list[str]:
    """Every normal-form name of a MovieLens title: the main one and those in parentheses."""
    name, _year = split_title(title)
    primary, _, rest = name.partition(" (")
    names = [primary]
    for alt in re.findall(r"\(([^()]*)\)", "(" + rest if rest else ""):
        names.append(_ALSO_KNOWN.sub("", alt))
    from .data import move_article

    return list(dict.fromkeys(n for n in (normalise(move_article(x)) for x in names) if n))


class TitleIndex:
    """Search over all titles of a dataset (built once, queried many times)."""

    def __init__(self, dataset: Dataset) -> None:
        movies = dataset.movies
        self._labels = {int(m): dataset.label(int(m)) for m in movies.index}
        self._years = {
            int(m): (int(y) if y is not None and not _isna(y) else None)
            for m, y in zip(movies.index, movies["year"], strict=True)
        }
        popularity = dataset.rating_counts
        self._popularity = {int(m): int(c) for m, c in popularity.items()}
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._choices: list[str] = []
        self._owners: list[int] = []
        for movie_id, title in zip(movies.index, movies["title"], strict=True):
            for alias in aliases(title):
                self._exact[alias].append(int(movie_id))
                self._choices.append(alias)
                self._owners.append(int(movie_id))
        self._owners_array = np.asarray(self._owners)

    def __len__(self) -> int:
        return len(self._labels)

    def search(self, query: str, limit: int = 5) -> SearchResult:
        """Ranked candidates for ``query``; ``confident`` says whether to ask the user."""
        query = (query or "")[:MAX_QUERY]
        text, year = _split_year(query)
        key = normalise(text)
        if not key:
            return SearchResult(query, [], False)
        scores: dict[int, float] = {}
        for movie_id in self._exact.get(key, ()):
            scores[movie_id] = 100.0
        if len(scores) < limit or year is not None:
            for _alias, score, pos in process.extract(
                key, self._choices, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=75
            ):
                owner = self._owners[pos]
                scores[owner] = max(scores.get(owner, 0.0), float(score))
        ranked = []
        for movie_id, score in scores.items():
            movie_year = self._years[movie_id]
            if year is not None and movie_year is not None:
                score += 5 if movie_year == year else -(10 + min(abs(movie_year - year), 10))
            ranked.append((min(score, 100.0), self._popularity.get(movie_id, 0), movie_id))
        ranked.sort(key=lambda r: (-r[0], -r[1], r[2]))
        candidates = [Candidate(m, self._labels[m], round(s, 1)) for s, _, m in ranked[:limit]]
        return SearchResult(query, candidates, _confident(candidates))


def _confident(candidates: list[Candidate]) -> bool:
    if not candidates or candidates[0].score < 90:
        return False
    return len(candidates) == 1 or candidates[1].score <= candidates[0].score - 5


def _split_year(query: str) -> tuple[str, int | None]:
    match = _YEAR_IN_QUERY.search(query.strip())
    if not match or not match.string[: match.start()].strip():
        return query, None
    return query.strip()[: match.start()], int(match.group(1))


def _isna(value: object) -> bool:
    try:
        return bool(value != value) or value is None or str(value) == "<NA>"
    except (TypeError, ValueError):
        return True
