"""SGD-MF: it learns, it is deterministic, it caches, it folds in new users."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick import NoAnswer
from reelpick.cache import ArtifactStore
from reelpick.data import load_dataset
from reelpick.plugins.sgd_mf import DEFAULT_PARAMS, SgdMF
from reelpick.registry import Registry
from reelpick.sgd import fit_factors, train
from tests.support.fixtures import write_movielens

FAST = {"epochs": 40, "factors": 8, "lr": 0.02, "init_std": 0.1, "neighbours": 10, "min_ratings": 1}


def write_low_rank(folder: Path, noise: float, seed: int = 0) -> tuple[Path, pd.DataFrame]:
    """A MovieLens folder whose ratings are 3.2 + u.v (rank 3) + Gaussian noise.

    Returns the folder and a held-out test frame drawn from the same model.
    """
    rng = np.random.default_rng(seed)
    n_users, n_movies, rank = 300, 200, 3
    users = rng.normal(0, 0.6, (n_users, rank))
    movies = rng.normal(0, 0.6, (n_movies, rank))
    truth = 3.2 + users @ movies.T
    observed = rng.random((n_users, n_movies)) < 0.35
    held = observed & (rng.random((n_users, n_movies)) < 0.1)
    rows, cols = np.nonzero(observed)
    values = np.clip(truth[rows, cols] + rng.normal(0, noise, len(rows)), 0.5, 5.0)
    frame = pd.DataFrame(
        {"userId": rows + 1, "movieId": cols + 1, "rating": values, "timestamp": 1_000_000_000}
    )
    is_test = held[rows, cols]
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "movieId": np.arange(1, n_movies + 1),
            "title": [f"Film {i} (2000)" for i in range(1, n_movies + 1)],
            "genres": "Drama",
        }
    ).to_csv(folder / "movies.csv", index=False)
    frame[~is_test].to_csv(folder / "ratings.csv", index=False)
    return folder, frame[is_test]


def fitted(folder: Path, tmp_path: Path, **params) -> SgdMF:
    model = SgdMF()
    store = ArtifactStore(tmp_path / "cache", "sgd-mf", params=repr(sorted(params.items())))
    model.reelpick_fit(load_dataset(folder), dict(DEFAULT_PARAMS, **params), store)
    return model


def test_training_loss_decreases(small_movielens: Path) -> None:
    matrix = load_dataset(small_movielens).matrix.matrix
    _, history = train(matrix, dict(DEFAULT_PARAMS, epochs=15, factors=8, lr=0.02))
    losses = history["train_rmse"]
    assert len(losses) == 15
    assert losses[-1] < 0.8 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))


@pytest.mark.parametrize("implicit", [False, True])
def test_low_rank_data_is_learned_down_to_the_noise(tmp_path: Path, implicit: bool) -> None:
    noise = 0.3
    folder, test = write_low_rank(tmp_path / "low-rank", noise)
    model = fitted(
        folder,
        tmp_path,
        factors=6,
        epochs=150,
        lr=0.02,
        lr_decay=0.99,
        init_std=0.3,
        reg=0.02,
        genres=False,
        implicit=implicit,
        min_ratings=1,
    )
    errors = []
    for user, rows in test.groupby("userId"):
        predicted = model.reelpick_predict(int(user), rows["movieId"].tolist())
        errors.extend(np.asarray(predicted) - rows["rating"].to_numpy())
    rmse = float(np.sqrt(np.mean(np.square(errors))))
    baseline = float(test["rating"].std())  # what predicting a constant would score
    assert rmse < 1.25 * noise < baseline
    assert model.factors.history["valid_rmse"].min() < 1.25 * noise


def test_same_seed_same_factors_other_seed_other_factors(small_movielens: Path) -> None:
    dataset = load_dataset(small_movielens)
    a = fit_factors(dataset, dict(DEFAULT_PARAMS, **FAST))
    b = fit_factors(dataset, dict(DEFAULT_PARAMS, **FAST))
    c = fit_factors(dataset, dict(DEFAULT_PARAMS, **FAST, seed=1))
    assert np.array_equal(a.item_vec, b.item_vec) and np.array_equal(a.user_bias, b.user_bias)
    assert not np.allclose(a.item_vec, c.item_vec)


def test_ensemble_predicts_the_mean_of_its_members(small_movielens: Path, tmp_path: Path) -> None:
    fixed = {**FAST, "validation_share": 0.0}  # same epoch count for every fit
    pair = fitted(small_movielens, tmp_path / "pair", **fixed, ensemble=2)
    first = fitted(small_movielens, tmp_path / "first", **fixed, ensemble=1, seed=0)
    second = fitted(small_movielens, tmp_path / "second", **fixed, ensemble=1, seed=1)
    movies = list(range(1, 31))
    for user in (1, 2, 5):
        together = np.array(pair.reelpick_predict(user, movies))
        apart = (
            np.array(first.reelpick_predict(user, movies)) + second.reelpick_predict(user, movies)
        ) / 2
        inside = (together > 0.5) & (together < 5.0) & (apart > 0.5) & (apart < 5.0)  # unclipped
        assert inside.sum() > 20
        assert np.allclose(together[inside], apart[inside], atol=1e-4)


@pytest.mark.parametrize("similar_from", ["all", "ratings"])
def test_predictions_and_similar_movies_follow_the_taste_groups(
    small_movielens: Path, tmp_path: Path, similar_from: str
) -> None:
    # In the generated data, odd users like odd movies and even users even movies.
    model = fitted(small_movielens, tmp_path, **FAST, similar_from=similar_from)
    odd, even = list(range(1, 31, 2)), list(range(2, 31, 2))
    for user in (3, 4):
        liked, disliked = (odd, even) if user % 2 else (even, odd)
        assert (
            np.mean(model.reelpick_predict(user, liked))
            > np.mean(model.reelpick_predict(user, disliked)) + 1.0
        )
    neighbours = model.reelpick_similar(7, 5)
    assert len(neighbours) == 5 and 7 not in [n.movie_id for n in neighbours]
    assert sum(n.movie_id % 2 for n in neighbours) >= 4
    assert [n.score for n in neighbours] == sorted((n.score for n in neighbours), reverse=True)


def test_unknown_user_and_movie_give_no_answer(small_movielens: Path, tmp_path: Path) -> None:
    model = fitted(small_movielens, tmp_path, **FAST)
    with pytest.raises(NoAnswer, match="fold"):
        model.reelpick_predict(999, [1])
    with pytest.raises(NoAnswer):
        model.reelpick_predict(1, [12345])
    with pytest.raises(NoAnswer):
        model.reelpick_similar(12345, 5)


def test_fold_in_orders_a_new_users_taste(tmp_path: Path) -> None:
    folder = write_movielens(tmp_path / "ml", n_users=80, n_movies=40, density=0.4)
    model = fitted(folder, tmp_path, **FAST)
    # A newcomer who loves three odd movies and dislikes two even ones.
    user = model.fold_in({1: 5.0, 3: 4.5, 5: 5.0, 2: 1.0, 4: 1.5, 99999: 3.0})
    odd_rest, even_rest = list(range(7, 41, 2)), list(range(6, 41, 2))
    odd_pred, even_pred = user.predict(odd_rest), user.predict(even_rest)
    assert min(odd_pred) > max(even_pred)
    assert all(0.5 <= p <= 5.0 for p in odd_pred + even_pred)
    top = user.recommend(5, exclude={7}, min_ratings=1)
    assert len(top) == 5
    assert all(n.movie_id % 2 == 1 and n.movie_id not in (1, 3, 5, 7) for n in top)
    # The mirror image gets the mirror ranking.
    other = model.fold_in({2: 5.0, 4: 5.0, 1: 1.0})
    assert np.mean(other.predict(even_rest)) > np.mean(other.predict(odd_rest)) + 1.0
    with pytest.raises(ValueError, match="outside"):
        model.fold_in({1: 7.0})
    nobody = model.fold_in({})
    assert len(set(nobody.predict([1, 2]))) <= 2  # no taste: only the movie biases differ


def test_second_fit_loads_from_cache(make_config, small_movielens: Path) -> None:
    config = make_config(
        "[plugins.sgd-mf]\nepochs = 20\nfactors = 8\n", data=small_movielens, enabled=["sgd-mf"]
    )
    dataset = load_dataset(small_movielens)
    first, second = Registry(config), Registry(config)
    assert first.fit(dataset) == {"sgd-mf": None}
    assert second.fit(dataset) == {"sgd-mf": None}
    a, b = first.plugin_object("sgd-mf"), second.plugin_object("sgd-mf")
    assert not a.loaded_from_cache and b.loaded_from_cache
    assert np.array_equal(a.factors.item_vec, b.factors.item_vec)
    assert first.predict("sgd-mf", 1, [1, 2]) == second.predict("sgd-mf", 1, [1, 2])
    assert first.similar(1, 5) == second.similar(1, 5) or [
        x.neighbours for x in first.similar(1, 5)
    ] == [x.neighbours for x in second.similar(1, 5)]


def test_bad_parameters_are_refused(make_config, small_movielens: Path) -> None:
    config = make_config("[plugins.sgd-mf]\nlr = -1.0\n", data=small_movielens, enabled=["sgd-mf"])
    errors = Registry(config).fit(load_dataset(small_movielens))
    assert "lr must be positive" in errors["sgd-mf"]
