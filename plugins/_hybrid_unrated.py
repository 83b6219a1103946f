"""Similar movies for a movie no one has rated yet: genres, release period, audience size and
the words of its title.

A movie without ratings (a new release, a catalogue movie from TMDB) has a place in the taste
space only through the content map, and the map pulls such movies towards the average: every
new action film of one year lands on the same point, near whatever rated movies sit in the
middle. Its collaborative neighbours, once people rate it, are more predictable than that:
people rate the films of a period together, and item-item cosine favours the films most of
them watched. So a movie without ratings is compared with the candidates by

    score(j) = Jaccard(genres, genres_j)
               + year_weight * exp(-|year - year_j| / year_scale)
               + audience_weight * audience_j
               + title_weight * cosine(title words, title words_j)
               + taste_weight * cosine(mapped taste vector, taste vector_j)

``audience_j`` is log(1 + ratings of j), standardised over the rated movies. A movie without
ratings has no known audience: it gets the one a ridge regression predicts from its genres,
release period and title shape (a colon or a number: sequels and franchises), fitted on the
rated movies. The candidates are the movies with ``pool`` ratings or more and the other movies
without ratings (a new film's neighbours are often other new films): for a catalogue movie,
the other catalogue movies too. The title term compares the words of the titles (TF-IDF;
articles, numbers and sequel markers left out, accents folded): the people who rate a sequel
rated the films of its franchise. The last term lets the content map's view (posters,
keywords) weigh in.

The weights are chosen on validation movies inside the training data (two folds: the newest
movies of the training split lose their ratings, then the newest of the world before them;
the truth is cosine-CF) by ``bench/tune_hybrid_unrated.py``; bench/bench_new_releases.py
measures them on held-out films.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reelpick import CatalogueReader, Dataset, NewMovie

PERIOD_YEARS = 5  # width of a release-period bin in the audience model
PERIODS = 12  # bins, counted back from the newest rated movie's year
AUDIENCE_RIDGE = 10.0  # penalty of the audience model (fitted on thousands of movies)
SEQUEL = re.compile(r"\b(?:[2-9]|II|III|IV|V|VI|Part|Chapter|Vol\.?)\b")
WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more: no numbers, no initials
# Words that say nothing of what a film is: articles and joiners of the languages MovieLens
# titles come in, and the markers and numbers every sequel shares.
_UNTELLING = """
the an of and in on to for with at from by is its my your our his her this that
la le les un une des de du et il lo el los las en der das ein eine und von
ii iii iv vi vii viii part chapter vol volume episode aka
one two three four five six seven eight nine ten
"""
TITLE_STOPWORDS = frozenset(_UNTELLING.split())


@dataclass(frozen=True)
class UnratedSettings:
    """The weights of the score (module docstring); ``pool``: ratings a rated candidate needs."""

    year_weight: float
    year_scale: float
    audience_weight: float
    title_weight: float
    taste_weight: float
    pool: int


def settings_from(params: Mapping[str, Any]) -> UnratedSettings:
    """The settings in the hybrid's parameters (``unrated_*``)."""
    return UnratedSettings(
        year_weight=params["unrated_year_weight"],
        year_scale=params["unrated_year_scale"],
        audience_weight=params["unrated_audience_weight"],
        title_weight=params["unrated_title_weight"],
        taste_weight=params["unrated_taste_weight"],
        pool=params["unrated_pool"],
    )


@dataclass(frozen=True)
class Described:
    """What the score reads of one movie: genre names, year (NaN: unknown), title."""

    genres: tuple[str, ...]
    year: float
    title: str

    @classmethod
    def of(cls, movie: NewMovie) -> Described:
        """A catalogue movie as the score reads it."""
        return cls(movie.genres, np.nan if movie.year is None else float(movie.year), movie.title)


class Candidates:
    """Movies a movie without ratings is compared with (aligned rows): the dataset's, or the
    catalogue's. ``counts``: ratings (0 for catalogue movies); ``audience``: standardised log
    audience, predicted for movies without ratings."""

    def __init__(
        self,
        movie_ids: np.ndarray,
        genres: np.ndarray,
        years: np.ndarray,
        counts: np.ndarray,
        audience: np.ndarray,
        titles: TitleWords,
    ) -> None:
        self.movie_ids = movie_ids
        self.genres = genres  # float32 rows over the dataset's genre names
        self.years = years  # float64, NaN where unknown
        self.counts = counts
        self.audience = audience
        self.titles = titles
        # Per-query work is a few vector operations over every candidate: what does not
        # depend on the query is computed once here.
        self.sizes = genres.sum(axis=1)
        self.described = (self.sizes > 0) | ~np.isnan(years)
        self._eligible: tuple[int, np.ndarray] | None = None

    def eligible(self, pool: int) -> np.ndarray:
        """Described (genres or a year) and either rated ``pool`` times or not rated at all."""
        cached = self._eligible
        if cached is None or cached[0] != pool:
            mask = self.described & ((self.counts >= pool) | (self.counts == 0))
            cached = self._eligible = (pool, mask)
        return cached[1]

    def hide(self, movie_ids: np.ndarray) -> None:
        """Never offer ``movie_ids`` again (a later copy of their rows replaced them)."""
        self.described = self.described & ~np.isin(self.movie_ids, movie_ids)
        self._eligible = None


class UnratedNeighbours:
    """The dataset's movies as candidates (genres, years, audience) and the models that
    describe other movies the same way: the audience model and the title words' weights."""

    def __init__(self, dataset: Dataset) -> None:
        movies = dataset.movies
        self.vocabulary = {
            g: i for i, g in enumerate(sorted({g for gs in movies["genres"] for g in gs}))
        }
        genres = self._genre_rows(list(movies["genres"]))
        years = movies["year"].astype("float64").to_numpy()
        counts = dataset.rating_counts.reindex(movies.index).to_numpy()
        titles = list(movies["name"].astype(str))  # without the year
        rated = counts > 0
        rated_years = years[rated & ~np.isnan(years)]
        self.newest = float(rated_years.max()) if len(rated_years) else 2000.0
        self.year_mean = float(rated_years.mean()) if len(rated_years) else 2000.0
        self.words = WordWeights(titles)
        # TMDB ids the dataset links to: a catalogue row with one is a dataset film (kept from
        # an older dataset), never a second candidate for it.
        linked = movies["tmdb_id"].dropna().astype("int64")
        self.linked = {int(t): int(m) for m, t in zip(linked.index, linked, strict=True)}
        audience, self.audience_weights = self._fit_audience(genres, years, titles, counts)
        self.dataset = Candidates(
            movie_ids=movies.index.to_numpy(dtype=np.int64),
            genres=genres,
            years=years,
            counts=counts,
            audience=audience,
            titles=TitleWords(titles, self.words),
        )

    # -- describing movies -------------------------------------------------------------------
    def _genre_rows(self, genres: Sequence[Sequence[str]]) -> np.ndarray:
        rows = np.zeros((len(genres), len(self.vocabulary)), dtype=np.float32)
        for r, names in enumerate(genres):
            for g in names:
                if g in self.vocabulary:
                    rows[r, self.vocabulary[g]] = 1.0
        return rows

    def _audience_rows(
        self, genre_rows: np.ndarray, years: np.ndarray, titles: Sequence[str]
    ) -> np.ndarray:
        """Genres, genre count, release period (newest bins last), title shape, intercept."""
        known = ~np.isnan(years)
        filled = np.where(known, years, self.year_mean)
        # Years past the newest rated movie fall in its bin: the newest period seen.
        back = np.clip((self.newest - filled) // PERIOD_YEARS, 0, PERIODS - 1).astype(int)
        period = np.zeros((len(years), PERIODS + 1), dtype=np.float32)
        period[np.arange(len(years)), back] = known
        period[:, PERIODS] = ~known
        shape = np.array(
            [(":" in t, bool(SEQUEL.search(t))) for t in titles], dtype=np.float32
        ).reshape(len(titles), 2)
        count = genre_rows.sum(axis=1, keepdims=True) / 3.0
        return np.hstack([genre_rows, count, period, shape, np.ones((len(years), 1))])

    def _fit_audience(
        self, genres: np.ndarray, years: np.ndarray, titles: Sequence[str], counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Standardised log audience (measured where rated, predicted elsewhere) and the
        ridge weights that predict it (None with fewer than two rated movies)."""
        rated = counts > 0
        if rated.sum() < 2:
            return np.zeros(len(counts)), None
        measured = np.log1p(counts.astype(np.float64))
        x = self._audience_rows(genres, years, titles).astype(np.float64)
        mean = float(measured[rated].mean())
        scale = float(measured[rated].std()) or 1.0
        a = x[rated]
        weights: np.ndarray = np.linalg.solve(
            a.T @ a + AUDIENCE_RIDGE * np.eye(a.shape[1]),
            a.T @ ((measured[rated] - mean) / scale),
        )
        return np.where(rated, (measured - mean) / scale, x @ weights), weights

    def describe(self, movie_id: int) -> Described:
        """A dataset movie as the score reads it."""
        at = int(np.searchsorted(self.dataset.movie_ids, movie_id))
        names = [g for g, i in self.vocabulary.items() if self.dataset.genres[at, i]]
        title = self.dataset.titles.titles[at]
        return Described(tuple(names), float(self.dataset.years[at]), title)

    def itself(self, movie: NewMovie) -> set[int]:
        """The ids a catalogue movie must not be offered as similar to: its own, and its
        dataset twin's when the dataset links its TMDB id."""
        twin = self.linked.get(movie.tmdb_id) if movie.tmdb_id is not None else None
        return {movie.movie_id} if twin is None else {movie.movie_id, twin}

    def catalogue(self, movies: Sequence[NewMovie]) -> Candidates:
        """Catalogue movies as candidates: no ratings, so a predicted audience. Rows of films
        the dataset has (by TMDB id) are left out."""
        movies = [m for m in movies if m.tmdb_id is None or m.tmdb_id not in self.linked]
        genres = self._genre_rows([m.genres for m in movies])
        years = np.array([np.nan if m.year is None else m.year for m in movies], dtype=float)
        titles = [m.title for m in movies]
        if self.audience_weights is None or not len(movies):
            audience = np.zeros(len(movies))
        else:
            audience = self._audience_rows(genres, years, titles) @ self.audience_weights
        return Candidates(
            movie_ids=np.array([m.movie_id for m in movies], dtype=np.int64),
            genres=genres,
            years=years,
            counts=np.zeros(len(movies), dtype=np.int64),
            audience=audience,
            titles=TitleWords(titles, self.words),
        )

    # -- the score ---------------------------------------------------------------------------
    def scores(
        self,
        movie: Described,
        settings: UnratedSettings,
        candidates: Candidates | None = None,
        taste: np.ndarray | None = None,
    ) -> np.ndarray:
        """The score of every candidate (the dataset's by default) for ``movie``; -inf for
        those not eligible. ``taste``: cosine of the movie's mapped taste vector with every
        candidate's (or None)."""
        c = self.dataset if candidates is None else candidates
        row = self._genre_rows([movie.genres])[0]
        inter = c.genres @ row
        union = c.sizes + row.sum() - inter
        score = np.divide(inter, union, out=np.zeros(len(union)), where=union > 0)
        if not np.isnan(movie.year):
            gap = np.abs(c.years - movie.year)
            score += settings.year_weight * np.where(
                np.isnan(gap), 0.0, np.exp(-np.nan_to_num(gap) / settings.year_scale)
            )
        score += settings.audience_weight * c.audience
        if settings.title_weight:
            score += settings.title_weight * c.titles.similarity(self.words.query(movie.title))
        if taste is not None and settings.taste_weight:
            score += settings.taste_weight * taste
        return np.where(c.eligible(settings.pool), score, -np.inf)

    def top(
        self,
        movie: Described,
        k: int,
        settings: UnratedSettings,
        taste: np.ndarray | None = None,
        exclude: Collection[int] = (),
        catalogue: Sequence[tuple[Candidates, np.ndarray | None]] = (),
    ) -> list[tuple[int, float]]:
        """(movie id, score) of the ``k`` best candidates, best first, none of ``exclude``.
        ``catalogue``: parts of the catalogue's candidates, each with its taste cosines,
        ranked with the dataset's."""
        parts = [(self.dataset.movie_ids, self.scores(movie, settings, None, taste))]
        for candidates, cosines in catalogue:
            parts.append((candidates.movie_ids, self.scores(movie, settings, candidates, cosines)))
        ids = np.concatenate([i for i, _ in parts])
        score = np.concatenate([s for _, s in parts])
        if len(exclude):
            score[np.isin(ids, list(exclude))] = -np.inf
        k = min(k, int(np.isfinite(score).sum()))
        if k <= 0:
            return []
        best = np.argpartition(-score, k - 1)[:k]
        best = best[np.argsort(-score[best], kind="stable")]
        return [(int(ids[i]), float(score[i])) for i in best]


class CatalogueCandidates:
    """The catalogue's movies as candidates, in parts: described in full once, then only the
    rows added or refreshed since (a movie added while a person waits costs one row, not the
    whole catalogue); a removed row or many parts describe it in full again."""

    MAX_PARTS = 16

    def __init__(self, reader: CatalogueReader, unrated: UnratedNeighbours) -> None:
        self.reader = reader
        self.unrated = unrated
        self._lock = threading.Lock()
        self._signature: tuple[int, float] | None = None
        self._parts: list[Candidates] = []
        self._ids: set[int] = set()  # every catalogue row's movie id, as last read

    def current(self) -> list[Candidates]:
        """Every catalogue movie as a candidate, in parts (none while there is no catalogue)."""
        with self._lock:
            signature = self.reader.signature()
            if signature is None:
                self._signature, self._parts = None, []
            elif signature != self._signature:
                self._parts = self._updated(signature)
                self._signature = signature
            return list(self._parts)

    def _updated(self, signature: tuple[int, float]) -> list[Candidates]:
        last = self._signature
        if last is not None and signature[0] >= last[0] and len(self._parts) < self.MAX_PARTS:
            rows = self.reader.written_after(last[1])
            ids = self._ids | {m.movie_id for m in rows}
            if len(ids) == signature[0]:  # rows were added or refreshed, none removed
                fresh = self.unrated.catalogue(rows)
                for part in self._parts:
                    part.hide(np.array([m.movie_id for m in rows], dtype=np.int64))
                self._ids = ids
                return [*self._parts, fresh]
        rows = self.reader.movies()
        self._ids = {m.movie_id for m in rows}
        return [self.unrated.catalogue(rows)]

    def close(self) -> None:
        with self._lock:
            self.reader.close()


def title_words(title: str) -> set[str]:
    """The words of a title that can tell films apart: lower case and without accents ("Léon"
    on TMDB is "Leon" in some MovieLens titles)."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return {w for w in WORD.findall(text) if w not in TITLE_STOPWORDS}


class WordWeights:
    """Inverse document frequencies of title words over the dataset's titles; a word no
    dataset title has weighs as much as the rarest."""

    def __init__(self, titles: Sequence[str]) -> None:
        frequency = Counter(w for t in titles for w in title_words(t))
        self.documents = max(len(titles), 1)
        self.idf = {w: math.log(self.documents / n) for w, n in frequency.items()}

    def weight(self, word: str) -> float:
        return self.idf.get(word, math.log(self.documents))

    def query(self, title: str) -> dict[str, float]:
        """A title as a unit vector of weighted words ({} without a telling word)."""
        weights = {w: self.weight(w) for w in title_words(title)}
        norm = math.sqrt(sum(v * v for v in weights.values()))
        return {w: v / norm for w, v in weights.items()} if norm > 0 else {}


class TitleWords:
    """Titles as unit TF-IDF rows (sparse), and the cosine of a query title with each."""

    def __init__(self, titles: Sequence[str], weights: WordWeights) -> None:
        self.titles = list(titles)
        words = [sorted(title_words(t)) for t in self.titles]
        self.columns = {w: i for i, w in enumerate(sorted({w for ws in words for w in ws}))}
        rows = np.repeat(np.arange(len(words)), [len(ws) for ws in words])
        cols = np.fromiter(
            (self.columns[w] for ws in words for w in ws), dtype=np.int64, count=len(rows)
        )
        values = np.fromiter(
            (weights.weight(w) for ws in words for w in ws), dtype=np.float64, count=len(rows)
        )
        matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(words), len(self.columns)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        # Columns are what a query reads: the words of its title.
        self.matrix = sp.csc_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix)

    def similarity(self, query: Mapping[str, float]) -> np.ndarray:
        """Cosine of a query (:meth:`WordWeights.query`) with every title."""
        shared = [(self.columns[w], v) for w, v in query.items() if w in self.columns]
        if not shared:
            return np.zeros(len(self.titles))
        cols, values = zip(*sorted(shared), strict=True)
        return np.asarray(self.matrix[:, list(cols)] @ np.array(values)).ravel()
