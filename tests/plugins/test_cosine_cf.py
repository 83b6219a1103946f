"""cosine-CF on the real ml-latest-small."""

import numpy as np
import pytest

from reelpick.app import Reelpick


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Reelpick:
    from reelpick.config import load_config
    from tests.support.fixtures import ML_SMALL

    folder = tmp_path_factory.mktemp("cosine")
    (folder / "config.toml").write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
    )
    return Reelpick.open(load_config(folder / "config.toml"))


def test_toy_story_neighbours(app: Reelpick) -> None:
    answer = app.similar(1, 10)[0]
    labels = [app.dataset.label(n.movie_id) for n in answer.neighbours]
    assert "Toy Story 2 (1999)" in labels
    assert len(labels) == 10


def test_contract_on_many_movies(app: Reelpick) -> None:
    rng = np.random.default_rng(0)
    rated = app.dataset.ratings["movieId"].unique()
    counts = app.dataset.rating_counts
    answered = 0
    for movie_id in rng.choice(rated, 200, replace=False):
        answer = app.similar(int(movie_id), 10)[0]
        if answer.no_answer:
            # Only movies too rarely rated for min_support = 3 may go without neighbours.
            assert counts[movie_id] < 10, (movie_id, counts[movie_id], answer.no_answer)
            continue
        answered += 1
        assert answer.ok, answer.error
        ids = [n.movie_id for n in answer.neighbours]
        scores = [n.score for n in answer.neighbours]
        assert int(movie_id) not in ids
        assert all(i in app.dataset for i in ids)
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0 - 1e-6 <= s <= 1.0 + 1e-6 for s in scores)
        assert len(set(ids)) == len(ids)
    # Half of ml-latest-small's movies have one or two ratings; the rest must be answered,
    # so that a plugin answering NoAnswer to everything cannot pass.
    assert answered >= 80, f"only {answered} of 200 rated movies got neighbours"


def test_unrated_and_unknown_movies_get_a_reason(app: Reelpick) -> None:
    unrated = int(app.dataset.rating_counts[app.dataset.rating_counts == 0].index[0])
    assert "no ratings" in app.similar(unrated, 5)[0].no_answer
    assert app.similar(10**9 - 1, 5)[0].no_answer  # below the catalogue ids


def test_user_based_predictions(app: Reelpick) -> None:
    registry = app.registry
    assert registry.predicts("cosine-cf")
    rare = int(app.dataset.rating_counts[app.dataset.rating_counts == 1].index[0])
    movies = [1, 2571, 3114, rare]
    predicted = registry.predict("cosine-cf", 1, movies)
    assert all(0.5 <= p <= 5.0 for p in predicted)
    plugin = registry.plugin_object("cosine-cf")
    plugin.params = {**plugin.params, "prediction": "zero-filled"}
    try:
        zero_filled = registry.predict("cosine-cf", 1, movies)
    finally:
        plugin.params = {**plugin.params, "prediction": "mean-centred"}
    # Zero-filled: unrated cells count as ratings of 0, dragging every prediction down,
    # all the way to about 0 for a movie that one person rated.
    assert all(z < p for z, p in zip(zero_filled, predicted, strict=True))
    assert zero_filled[-1] < 0.1


def test_recent_ratings_lead_while_rating_and_after_years_away(app: Reelpick) -> None:
    from reelpick.types import Profile

    toy_story, heat, aliens, ronin = 1, 6, 1200, 2278
    ratings = {toy_story: 5.0, aliens: 5.0, heat: 5.0, ronin: 5.0}
    # Two family-film evenings long ago, then a crime-film evening just now.
    times = {toy_story: 1000.0, aliens: 2000.0, heat: 10_000.0, ronin: 10_060.0}
    plugin = app.registry.plugin_object("cosine-cf")
    assert plugin.params["recency_half_life"] > 0

    def picks(profile: Profile) -> list[tuple[int, int]]:
        """Each pick and the profile movie that lent it most."""
        found = plugin.reelpick_recommend(profile, 10, frozenset(ratings))
        return [(r.movie_id, r.because[0]) for r in found]

    plain = picks(Profile(ratings=ratings))
    back_later = picks(Profile(ratings=ratings, rated_at=times, asked_at=10_000.0 + 86_400))
    # Back a day later after one evening's ratings: hours apart weigh the same as equal.
    assert back_later == plain
    rating_now = picks(Profile(ratings=ratings, rated_at=times, asked_at=10_120.0))
    led_by_latest = [reason in (heat, ronin) for _, reason in rating_now]
    assert sum(led_by_latest) > sum(reason in (heat, ronin) for _, reason in plain)
    # Back later, ratings fade by age in days: family evenings three years before the crime
    # evening weigh less, a same-day gap as above does not.
    assert plugin.params["returning_half_life_days"] > 0
    years = 3 * 365 * 86_400.0
    aged = {toy_story: 1000.0, aliens: 2000.0, heat: years, ronin: years + 60}
    back_after_years = picks(Profile(ratings=ratings, rated_at=aged, asked_at=years + 86_400))
    led_by_recent = [reason in (heat, ronin) for _, reason in back_after_years]
    assert sum(led_by_recent) > sum(reason in (heat, ronin) for _, reason in plain)


def test_a_warm_start_builds_the_rating_matrix_only_for_a_prediction(tmp_path) -> None:
    """Similar movies and picks read the cached table; the user-based prediction's matrix is
    built from the dataset on the first prediction, not held from the start."""
    from reelpick.config import load_config
    from reelpick.types import Profile
    from tests.support.fixtures import ML_SMALL

    (tmp_path / "config.toml").write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
    )
    Reelpick.open(load_config(tmp_path / "config.toml"))  # fits and caches the table
    warm = Reelpick.open(load_config(tmp_path / "config.toml"))
    assert "matrix" not in vars(warm.dataset)  # the cached_property was never computed
    assert warm.similar(1, 10)[0].ok
    assert warm.recommend(Profile(ratings={1: 5.0, 2571: 4.5}), 10)[0].ok
    assert "matrix" not in vars(warm.dataset)
    assert all(0.5 <= p <= 5.0 for p in warm.registry.predict("cosine-cf", 1, [1, 2571]))
    assert "matrix" in vars(warm.dataset)
