"""Title search: a free-text query -> ranked MovieLens movies, in about a millisecond.

Titles and queries go through the same normal form: lower case, no accents or punctuation,
"Matrix, The" read as "The Matrix", roman numerals and "Part II" read as "2". The leading
article is kept apart (``("the", "matrix")``) so that "heat" prefers "Heat" to "The Heat"
while still finding both. Every alternative title in parentheses ("Seven (a.k.a. Se7en)")
is an alias of its movie.

A query is never compared with every title (that costs ~25 ms at 62k titles). Instead:

1. exact names come from dicts (name without article, with article, without spaces);
2. the other candidates are the titles holding every query word, from an inverted index;
   a word that is not in any title is corrected through a one-deletion dictionary (typos
   such as "matirx"), and the last word may be unfinished ("toy sto");
3. only those few hundred candidates are scored with rapidfuzz.

Scores are 0-100. Exact names score 100 (article agrees) or 97 (it does not); spacing
variants 96; everything else at most 94, so an exact name always ranks first. A year in the
query adds 3 to titles of that year and takes 10 or more from the others.
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from .movielens import TRAILING_ARTICLE, Dataset, move_article

MAX_QUERY = 200  # characters of a query that are read; the rest is ignored
MAX_WORDS = 10
MAX_CANDIDATES = 200  # fuzzy candidates scored per query
MAX_COMPLETIONS = 20  # forms tried for an unfinished last word
WIDEN_BELOW = 1000  # a real query word in fewer titles than this may still be a typo
EXACT, EXACT_OTHER_ARTICLE, SPACING, FUZZY_MAX = 100.0, 97.0, 96.0, 94.0

_YEAR_IN_QUERY = re.compile(r"(?:^|[\s(,])((?:18[89]|19\d|20\d)\d)\)?\s*$")
_ALSO_KNOWN = re.compile(r"^(?:a\.?k\.?a\.?|also known as)\s+", re.IGNORECASE)
_TITLE_YEAR = re.compile(r"\s*\(\d{4}(?:[-–]\d{0,4})?\)\s*$")
_PARENS = re.compile(r"\(([^()]*)\)")
_NOT_WORD = re.compile(r"[\W_]+")
_ROMAN = re.compile(r"^(?=[ivx])(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}
_NUMBERED = {"part", "pt", "vol", "volume"}  # "Part II" == "II" == "2"
_EPISODE = {"episode", "chapter", *_NUMBERED}
_ARTICLES = ("the", "a", "an")
# Letters that NFKD does not split into a base letter and an accent.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ð": "d", "þ": "th", "ł": "l"})


@dataclass(frozen=True)
class SearchSettings:
    """The ``[search]`` section of config.toml."""

    # Best scores under this are no match at all ("no movie matches" rather than "could be"):
    # bench/tune_search_floor.py chose it on typos of real titles against made-up words.
    min_score: float = 66.0


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
    return _split_article(text)[1]


def aliases(title: str) -> list[str]:
    """Every normal-form name of a MovieLens title: the main one and those in parentheses."""
    return list(dict.fromkeys(core for _article, core in _title_names(title) if core))


class TitleIndex:
    """Search over all titles of a dataset (built once, queried many times)."""

    def __init__(self, dataset: Dataset, settings: SearchSettings | None = None) -> None:
        self.settings = settings or SearchSettings()
        movies = dataset.movies
        ids = movies.index.to_numpy(dtype=np.int64)
        years = movies["year"].to_numpy(dtype=float, na_value=np.nan)
        self._labels = {
            int(m): f"{name} ({int(y)})" if y == y else str(name)
            for m, name, y in zip(ids, movies["name"], years, strict=True)
        }
        self._years = {
            int(m): (int(y) if y == y else None) for m, y in zip(ids, years, strict=True)
        }
        counts = dataset.rating_counts
        self._popularity = dict(
            zip(counts.index.astype(int), counts.to_numpy(dtype=int), strict=True)
        )

        # One row per alias: its movie, leading article and normal form.
        self._owner: list[int] = []
        self._article: list[str] = []
        self._core: list[str] = []
        self._exact: dict[str, list[int]] = defaultdict(list)  # core -> alias rows
        self._exact_full: dict[str, list[int]] = defaultdict(list)  # "the matrix" -> rows
        self._compact: dict[str, list[int]] = defaultdict(list)  # "spiderman" -> rows
        postings: dict[str, list[int]] = defaultdict(list)
        for movie_id, title in zip(ids, movies["title"], strict=True):
            for article, core in dict.fromkeys(_title_names(str(title))):
                if not core:
                    continue
                row = len(self._core)
                words = core.split()
                self._owner.append(int(movie_id))
                self._article.append(article)
                self._core.append(core)
                self._exact[core].append(row)
                if article:
                    self._exact_full[f"{article} {core}"].append(row)
                if article == "l":  # "Avventura, L'" is typed "l'avventura" -> "lavventura"
                    self._exact_full[f"l{core}"].append(row)
                self._compact["".join(words)].append(row)
                for word in set(words):
                    postings[word].append(row)
        self._postings = {w: np.asarray(rows, dtype=np.int32) for w, rows in postings.items()}
        self._common = max(1000, len(self._core) // 50)
        self._lengths = np.fromiter((len(c) for c in self._core), dtype=np.int32)
        self._vocabulary = sorted(postings)
        # Symmetric-delete typo index: a word and every form of it with one letter removed.
        self._deletions: dict[str, list[str]] = defaultdict(list)
        # A query word within one typo has a form in common with it ("matirx" ~ "matrx").
        for word in self._vocabulary:
            if len(word) >= 3:
                for variant in (word, *(_deletions(word) if len(word) >= 4 else ())):
                    self._deletions[variant].append(word)

    def __len__(self) -> int:
        return len(self._labels)

    def search(self, query: str, limit: int = 5) -> SearchResult:
        """Ranked candidates for ``query``; ``confident`` says whether to ask the user."""
        query = (query if isinstance(query, str) else "")[:MAX_QUERY]
        text, year = _split_year(query)
        # A pasted MovieLens label: "Seven (a.k.a. Se7en) (1995)" -> "Seven".
        primary = text.split(" (", 1)[0] if " (" in text else text
        scores = self._score(primary if primary.strip() else text, limit)
        if year is not None:
            for movie_id, score in scores.items():
                movie_year = self._years[movie_id]
                if movie_year is not None:
                    score += 3 if movie_year == year else -(10 + min(abs(movie_year - year), 10))
                scores[movie_id] = min(score, EXACT)
            if max(scores.values(), default=0.0) < EXACT and not query.rstrip().endswith(")"):
                # "Blade Runner 2049": the number may belong to the title instead.
                for movie_id, score in self._score(f"{text} {year}", limit).items():
                    scores[movie_id] = max(scores.get(movie_id, 0.0), score)
        floor = self.settings.min_score
        ranked = sorted(
            (
                (score, self._popularity.get(m, 0), m)
                for m, score in scores.items()
                if score >= floor
            ),
            key=lambda r: (-r[0], -r[1], r[2]),
        )[:limit]
        candidates = [Candidate(m, self._labels[m], round(s, 1)) for s, _, m in ranked]
        return SearchResult(query, candidates, _confident(ranked))

    def _score(self, text: str, limit: int) -> dict[int, float]:
        """Best score per movie for one reading of the query (no year handling)."""
        article, core = _split_article(text)
        if not core:
            return {}
        core = " ".join(core.split()[:MAX_WORDS])
        words = list(dict.fromkeys(core.split()))  # "the of the": each word once
        scores: dict[int, float] = {}

        def offer(row: int, score: float) -> None:
            owner = self._owner[row]
            if score > scores.get(owner, -1.0):
                scores[owner] = score

        for row in self._exact.get(core, ()):
            offer(row, EXACT if self._article[row] == article else EXACT_OTHER_ARTICLE)
        # With the article as typed: "la haine" -> "Haine, La", "the matrix" -> "Matrix, The".
        for row in self._exact_full.get(" ".join(filter(None, (article, core))), ()):
            offer(row, EXACT)
        for row in self._compact.get(core.replace(" ", ""), ()):
            offer(row, SPACING)
        if len(scores) >= limit and min(scores.values()) >= SPACING:
            return scores  # enough exact names; fuzzy ones would all rank below them

        expansions = [self._expand(w, i == len(words) - 1, False) for i, w in enumerate(words)]
        rows, complete = self._candidates(words, expansions)
        if not complete:
            # A typo may make another real word ("forest gump"): widen every word and retry.
            expansions = [self._expand(w, i == len(words) - 1, True) for i, w in enumerate(words)]
            rows, complete = self._candidates(words, expansions)
        if not len(rows):
            return scores
        # How much of the query each candidate holds (letters, typo-corrected words counted
        # at their similarity): a vector per query word, built from the postings.
        matched = np.zeros(len(rows))
        for word, options in zip(words, expansions, strict=True):
            best = np.zeros(len(rows))
            for known, similarity in options.items():
                np.maximum(best, similarity * _holds(self._postings[known], rows), out=best)
            matched += len(word) * best
        matched /= sum(len(w) for w in words)
        # All words present: the more of the title they cover, the better.
        subset = matched * (70 + 24 * np.minimum(1.0, len(core) / self._lengths[rows]))
        # Typos spread over the whole title.
        whole = process.cdist([core], [self._core[r] for r in rows], scorer=fuzz.ratio)[0]
        final = np.minimum(FUZZY_MAX, np.maximum(subset, whole))
        for row, score in zip(rows.tolist(), final.tolist(), strict=True):
            offer(row, score)
        return scores

    def _expand(self, word: str, last: bool, wide: bool) -> dict[str, float]:
        """Title words that may stand for ``word``, with a similarity in [0, 1].

        A word found in some title stands for itself only, unless ``wide``.
        """
        options: dict[str, float] = {}
        if word in self._postings:
            options[word] = 1.0
        # Widen only rarer words: a typo rarely lands on a word in thousands of titles.
        if len(word) >= 4 and (not options or (wide and len(self._postings[word]) < WIDEN_BELOW)):
            for variant in (word, *_deletions(word)):
                for known in self._deletions.get(variant, ()):
                    options.setdefault(known, fuzz.ratio(word, known) / 100)
        if last and len(word) >= 2 and (not options or len(word) <= 3):
            # An unfinished last word: "toy sto" -> story, stone, stop (the commonest ones).
            start = bisect.bisect_left(self._vocabulary, word)
            end = bisect.bisect_left(
                self._vocabulary, word + "\uffff", start, min(start + 5000, len(self._vocabulary))
            )
            completions = heapq.nlargest(
                MAX_COMPLETIONS,
                self._vocabulary[start:end],
                key=lambda known: len(self._postings[known]),
            )
            for known in completions:
                options.setdefault(known, 0.6 + 0.3 * len(word) / len(known))
        return options

    def _candidates(
        self, words: list[str], expansions: list[dict[str, float]]
    ) -> tuple[np.ndarray, bool]:
        """Alias rows holding a form of every query word (then True); failing that, those
        with the most letters of the query (then False)."""
        # Per query word: the sorted postings of each of its forms, and its length.
        per_word = [
            ([self._postings[w] for w in options], len(word))
            for word, options in zip(words, expansions, strict=True)
            if options
        ]
        if not per_word:
            return np.empty(0, dtype=np.int32), False
        complete = len(per_word) == len(expansions)
        # Words found in very many titles ("the", "of") select little and cost much: leave
        # them to the scoring when rarer words can pick the candidates.
        rare = [item for item in per_word if sum(map(len, item[0])) <= self._common]
        if rare and len(rare) < len(per_word):
            per_word = rare
        per_word.sort(key=lambda item: sum(map(len, item[0])))
        first = per_word[0][0]
        rows = np.unique(np.concatenate(first)) if len(first) > 1 else first[0]
        for lists, _ in per_word[1:]:
            if not len(rows):
                break
            held = _holds(lists[0], rows)
            for more in lists[1:]:
                held |= _holds(more, rows)
            rows = rows[held]
        complete = complete and bool(len(rows))
        if not complete:
            # Some word is in no title, or no title holds them all: most letters matched.
            found, weights = [], []
            for lists, length in per_word:
                mine = np.unique(np.concatenate(lists)) if len(lists) > 1 else lists[0]
                found.append(mine)
                weights.append(np.full(len(mine), length, np.float32))
            rows, inverse = np.unique(np.concatenate(found), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate(weights))
            if len(rows) > MAX_CANDIDATES:
                order = np.lexsort((self._lengths[rows], -counts))
                rows = rows[order[:MAX_CANDIDATES]]
        elif len(rows) > MAX_CANDIDATES:
            # Shorter titles score higher for the same words; keep the shortest.
            keep = np.argpartition(self._lengths[rows], MAX_CANDIDATES)[:MAX_CANDIDATES]
            rows = rows[keep]
        return rows.astype(np.int32, copy=False), complete


def _confident(ranked: list[tuple[float, int, int]]) -> bool:
    """An exact name ahead by a little, or a near match ahead by a lot; in both cases not
    an obscure film ahead of a much better known near match ("lord of the rings")."""
    if not ranked:
        return False
    top, top_popularity, _ = ranked[0]
    gap = top - (ranked[1][0] if len(ranked) > 1 else 0.0)
    if not ((top >= 90 and gap >= 3) or (top >= 80 and gap >= 8)):
        return False
    return not any(
        score < SPACING and score > top - 15 and popularity > 5 * top_popularity + 10
        for score, popularity, _ in ranked[1:]
    )


def _split_year(query: str) -> tuple[str, int | None]:
    query = query.strip()
    match = _YEAR_IN_QUERY.search(query)
    if not match or not query[: match.start()].strip(" (,"):
        return query, None
    return query[: match.start()].rstrip(" (,"), int(match.group(1))


def _split_article(text: str) -> tuple[str, str]:
    """``"Matrix, The"`` -> ``("the", "matrix")``; only English articles lead a query."""
    text = move_article(text)
    words = _words(text)
    if len(words) > 1 and words[0] in _ARTICLES:
        return words[0], " ".join(words[1:])
    return "", " ".join(words)


def _title_names(title: str) -> list[tuple[str, str]]:
    """``(article, core)`` of each name of a movies.csv title (the main one, then aliases)."""
    body = title.strip()
    if (found := _TITLE_YEAR.search(body)) is not None:
        body = body[: found.start()]
    primary, _, rest = body.partition(" (")
    names = [primary] + [_ALSO_KNOWN.sub("", alt) for alt in _PARENS.findall("(" + rest)]
    found_names = []
    for name in names:
        trailing = TRAILING_ARTICLE.match(name.strip())
        if trailing:
            # "Haine, La" -> ("la", "haine"): a trailing article of any language.
            article = " ".join(_words(trailing.group("article")))
            found_names.append((article, " ".join(_words(trailing.group("body")))))
        else:
            found_names.append(_split_article(name))
    return found_names


def _words(text: str) -> list[str]:
    """Lower-case ASCII-folded words, with "part ii" / "II" read as "2"."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_FOLD))
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("&", " and ").replace("'", "").replace("\u2019", "")
    words = _NOT_WORD.sub(" ", text).split()
    out: list[str] = []
    for i, word in enumerate(words):
        # Roman numerals after the first word ("I, Robot" stays); a one-letter one only at
        # the end or after "part"/"episode" ("Malcolm X", "Episode I", but "X2: X-Men").
        if (
            i > 0
            and _ROMAN.match(word)
            and (len(word) > 1 or i == len(words) - 1 or words[i - 1] in _EPISODE)
        ):
            word = str(sum(_ROMAN_VALUES[c] for c in word) - 2 * _subtractive(word))
        if out and out[-1] in _NUMBERED and word.isdigit():
            out.pop()
        out.append(word)
    return out


def _subtractive(roman: str) -> int:
    """What the ``ix``/``iv`` pairs of a roman numeral subtract (1 each)."""
    return roman.count("ix") + roman.count("iv")


def _holds(postings: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Which of ``rows`` are in the sorted array ``postings`` (as 0/1)."""
    found = np.searchsorted(postings, rows)
    found[found == len(postings)] = 0
    held: np.ndarray = postings[found] == rows
    return held


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]
