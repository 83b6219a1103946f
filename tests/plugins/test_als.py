"""The als plugin: the contract kit, fold-in, and serving from the store without pyspark."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reelpick import Profile
from reelpick.app import Reelpick
from reelpick.config import load_config
from reelpick.plugins.als import SparkALS
from reelpick.testing import check_plugin, save_dataset, small_dataset
from tests.support.fixtures import REPO

pytestmark = pytest.mark.usefixtures("spark")
FAST = {"rank": 8, "max_iter": 5}  # small and quick: the contract, not the accuracy, is tested


@pytest.fixture(scope="module")
def small(ml_small):
    return small_dataset(ml_small, n_movies=300)


@pytest.fixture(scope="module")
def fitted(small, tmp_path_factory) -> Reelpick:
    """als fitted with the Spark engine on a MovieLens folder, as `reelpick fit` would."""
    root = tmp_path_factory.mktemp("als")
    folder = save_dataset(small, root / "data")
    (root / "config.toml").write_text(
        f'[data]\nsource = "{folder}"\n[cache]\ndir = "{root / "cache"}"\n'
        '[engine]\nname = "spark"\n[plugins]\nenabled = ["als", "cosine-cf"]\n'
        "[plugins.als]\n" + "".join(f"{k} = {v}\n" for k, v in FAST.items())
    )
    app = Reelpick.open(load_config(root / "config.toml"))
    assert all(p.fitted for p in app.registry.plugins.values() if p.name in ("als", "cosine-cf"))
    return app


def test_contract(small, tmp_path: Path) -> None:
    report = check_plugin(SparkALS, small, params=FAST, name="als", cache_root=tmp_path)
    assert report.predicts and report.answered > report.queries // 2


def test_fold_in_places_a_known_user_near_their_factors(fitted: Reelpick) -> None:
    plugin = fitted.registry.pm.get_plugin("als")
    ratings = fitted.dataset.ratings
    user_id = int(ratings["userId"].value_counts().index[0])
    mine = ratings[ratings["userId"] == user_id]
    _, folded = plugin.fold_in(dict(zip(mine["movieId"], mine["rating"], strict=True)))
    row = int(np.searchsorted(plugin.user_ids, user_id))
    learned = plugin.user_factors[row]
    cosine = folded @ learned / (np.linalg.norm(folded) * np.linalg.norm(learned))
    assert cosine > 0.9  # the same least-squares step, on the last item factors


def test_recommend_by_fold_in(fitted: Reelpick) -> None:
    profile = Profile(ratings={1: 5.0, 2571: 4.5, 260: 5.0}, seen=frozenset({1196}))
    answer = fitted.registry.recommend(profile, 10, ["als"], exclude={1210})[0]
    assert answer.ok, answer.error or answer.no_answer
    ids = [n.movie_id for n in answer.neighbours]
    assert len(ids) == 10 and not {1, 2571, 260, 1196, 1210} & set(ids)
    unknown = fitted.registry.recommend(Profile(ratings={10**9: 4.0}), 5, ["als"])[0]
    assert unknown.no_answer


SERVE_WITHOUT_PYSPARK = """
import sys
sys.modules["pyspark"] = None  # any import of pyspark now fails
from reelpick import Profile
from reelpick.app import Reelpick
from reelpick.config import load_config

app = Reelpick.open(load_config(sys.argv[1]))
registry = app.registry
assert all(registry.plugins[n].fitted for n in ("als", "cosine-cf")), "not fitted"
for name in ("als", "cosine-cf"):
    answer = registry.ask(name, 1, 5)
    assert answer.ok and len(answer.neighbours) == 5, answer
    print(name, [n.movie_id for n in answer.neighbours])
print("predict", registry.predict("als", int(app.dataset.ratings["userId"].iloc[0]), [1, 2571]))
rec = registry.ask_recommend("als", Profile(ratings={1: 5.0, 2571: 4.5}), 5)
assert rec.ok and len(rec.neighbours) == 5, rec
print("recommend", [n.movie_id for n in rec.neighbours])
print("pyspark loaded:", any(m.startswith("pyspark") and sys.modules[m] for m in sys.modules))
"""


def test_the_store_serves_without_pyspark(fitted: Reelpick) -> None:
    config = fitted.config
    expected = {
        name: [n.movie_id for n in fitted.registry.ask(name, 1, 5).neighbours]
        for name in ("als", "cosine-cf")
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SERVE_WITHOUT_PYSPARK), str(config.path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        # Same config, engine "local": a serving process never chooses Spark.
        env={"REELPICK_ENGINE": "local", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for name, ids in expected.items():
        assert f"{name} {ids}" in lines
    assert "pyspark loaded: False" in lines
