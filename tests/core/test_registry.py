"""The registry: loading, per-plugin isolation, parameters from config, and the fit cache."""

import logging
from pathlib import Path

import pytest

from reelpick import Need, Neighbour, NoAnswer, PluginInfo, hookimpl
from reelpick.app import Reelpick
from reelpick.data import load_dataset
from reelpick.errors import ConfigError, DataError, PluginError, UsageError
from reelpick.registry import Registry


class Fixed:
    """A plugin that always answers the same two movies."""

    @hookimpl
    def reelpick_plugin_info(self):
        return PluginInfo(label="Fixed", description="test", version="1", params={"bonus": 0.5})

    @hookimpl
    def reelpick_fit(self, dataset, params, store):
        self.params = params

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return [Neighbour(2, 0.9), Neighbour(3, 0.8)][:k]


class Broken(Fixed):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        raise RuntimeError("boom")


class Picky(Fixed):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        raise NoAnswer("no poster for this movie")


class Unsorted(Fixed):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return [Neighbour(2, 0.1), Neighbour(3, 0.8)]


def _registry(make_config, text: str = "", enabled=("cosine-cf",)) -> Registry:
    return Registry(make_config(text, enabled=list(enabled)), load_entry_points=False)


def test_builtins_are_registered(make_config) -> None:
    registry = _registry(make_config)
    assert registry.plugins["cosine-cf"].origin == "built-in"
    assert registry.plugins["cosine-cf"].info.label == "cosine-CF"


def test_one_failing_plugin_does_not_lose_the_others(
    make_config, ml_small, caplog: pytest.LogCaptureFixture
) -> None:
    registry = _registry(make_config, enabled=["broken", "fixed", "picky", "unsorted"])
    for name, cls in [
        ("broken", Broken),
        ("fixed", Fixed),
        ("picky", Picky),
        ("unsorted", Unsorted),
    ]:
        registry.register(cls(), name)
    registry.fit(ml_small)
    with caplog.at_level(logging.INFO):
        answers = {a.plugin: a for a in registry.similar(1, 5)}
    assert list(answers) == ["broken", "fixed", "picky", "unsorted"]
    assert answers["broken"].error == "RuntimeError: boom"
    # One error line naming the plugin; its traceback only in the verbose (INFO) log.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "plugin broken failed on movie 1: RuntimeError: boom" in errors[0].getMessage()
    assert not any(r.exc_info for r in errors)
    assert any(r.exc_info and r.levelno == logging.INFO for r in caplog.records)
    assert answers["fixed"].ok and [n.movie_id for n in answers["fixed"].neighbours] == [2, 3]
    assert (
        answers["picky"].no_answer == "no poster for this movie" and answers["picky"].error is None
    )
    assert "not sorted" in answers["unsorted"].error


def test_plugin_params_come_from_config(make_config, ml_small) -> None:
    registry = _registry(make_config, "[plugins.fixed]\nbonus = 2\n", enabled=["fixed"])
    plugin = Fixed()
    registry.register(plugin, "fixed")
    registry.fit(ml_small)
    assert plugin.params == {"bonus": 2.0}


def test_unknown_or_mistyped_plugin_param_is_a_clear_error(make_config) -> None:
    registry = _registry(make_config, "[plugins.fixed]\nbonuss = 2\n", enabled=["fixed"])
    with pytest.raises(ConfigError, match=r"\[plugins\.fixed\] bonuss: unknown parameter"):
        registry.register(Fixed(), "fixed")
    with pytest.raises(
        ConfigError, match=r"\[plugins\.cosine-cf\] min_support: expected an integer"
    ):
        _registry(make_config, '[plugins.cosine-cf]\nmin_support = "x"\n')


def test_unknown_plugin_name(make_config) -> None:
    registry = _registry(make_config, enabled=["cosine-cf"])
    with pytest.raises(UsageError, match="unknown plugin 'nope'"):
        registry.enabled(["nope"])  # a name the caller gave: a bad argument


def test_fit_failure_is_isolated(make_config, ml_small) -> None:
    class FailsToFit(Fixed):
        @hookimpl
        def reelpick_fit(self, dataset, params, store):
            raise ValueError("cannot fit")

    registry = _registry(make_config, enabled=["fails", "fixed"])
    registry.register(FailsToFit(), "fails")
    registry.register(Fixed(), "fixed")
    assert registry.fit(ml_small) == {"fails": "ValueError: cannot fit", "fixed": None}
    answers = registry.similar(1, 3)
    assert "not fitted" in answers[0].error and answers[1].ok


def test_second_open_loads_the_cached_table(make_config) -> None:
    config = make_config(enabled=["cosine-cf"])
    Reelpick.open(config)
    table = next(config.cache_dir.glob("cosine-cf/*/neighbours.npz"))
    stamp = table.stat().st_mtime_ns
    again = Reelpick.open(config)
    assert table.stat().st_mtime_ns == stamp  # loaded, not refitted
    assert again.similar(1, 3)[0].ok


def test_corrupted_cache_entry_is_rebuilt(make_config, ml_small) -> None:
    config = make_config(enabled=["cosine-cf"])
    first = Reelpick.open(config).similar(1, 10)[0].neighbours
    table = next(config.cache_dir.glob("cosine-cf/*/neighbours.npz"))
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])  # a torn write
    second = Reelpick.open(config).similar(1, 10)[0].neighbours
    assert second == first
    assert table.stat().st_size > 0


def test_cache_key_changes_with_params(make_config, ml_small) -> None:
    plain = _registry(make_config, enabled=["cosine-cf"]).store_for("cosine-cf", ml_small)
    adjusted = _registry(make_config, "[plugins.cosine-cf]\nadjusted = true\n").store_for(
        "cosine-cf", ml_small
    )
    assert plain.path != adjusted.path


def test_bad_data_writes_nothing_to_the_cache(make_config, small_movielens: Path) -> None:
    (small_movielens / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,oops,1\n")
    config = make_config(data=small_movielens, enabled=["cosine-cf"])
    with pytest.raises(DataError, match="line 2"):
        Reelpick.open(config)
    assert not config.cache_dir.exists() or not any(config.cache_dir.rglob("*.npz"))


def test_tracing_logs_each_hook_call(make_config, ml_small, caplog) -> None:
    registry = _registry(make_config, enabled=["fixed"])
    registry.register(Fixed(), "fixed")
    registry.trace_hook_calls()
    registry.fit(ml_small)
    with caplog.at_level(logging.INFO, logger="reelpick.trace"):
        registry.similar(1, 2)
    assert "reelpick_similar[fixed]" in caplog.text and " ms" in caplog.text


def test_load_dataset_smoke(small_movielens: Path) -> None:
    assert len(load_dataset(small_movielens).movies) == 30


class Bonuses(Fixed):
    """Declares a variant of its own parameters (as cosine-CF does for its two formulas)."""

    @hookimpl
    def reelpick_plugin_info(self):
        return PluginInfo(
            label="Bonuses",
            description="test",
            params={"bonus": 0.5},
            variants={"generous": {"bonus": 2}, "plain": {"bonus": 0.5}},
        )


def test_a_variant_is_a_fresh_instance_with_its_own_params(make_config, ml_small) -> None:
    registry = _registry(make_config, enabled=["bonuses"])
    registry.register(Bonuses(), "bonuses")
    variant = registry.register_variant("bonuses", "bonuses-generous", {"bonus": 2})
    assert variant.params == {"bonus": 2.0} and registry.plugins["bonuses"].params["bonus"] == 0.5
    assert registry.fit(ml_small, ["bonuses", "bonuses-generous"]) == {
        "bonuses": None,
        "bonuses-generous": None,
    }
    assert registry.plugin_object("bonuses-generous") is not registry.plugin_object("bonuses")
    assert registry.plugin_object("bonuses-generous").params == {"bonus": 2.0}
    assert registry.store_for("bonuses-generous", ml_small) != registry.store_for(
        "bonuses", ml_small
    )
    with pytest.raises(PluginError, match="unknown parameter 'bonuss'"):
        registry.register_variant("bonuses", "bonuses-typo", {"bonuss": 1})


def test_a_variant_of_an_unknown_parameter_is_refused_at_load(make_config) -> None:
    class Typo(Bonuses):
        @hookimpl
        def reelpick_plugin_info(self):
            return PluginInfo(label="Typo", description="t", variants={"x": {"bonuss": 1}})

    with pytest.raises(PluginError, match=r"variants\['x'\] sets unknown parameter 'bonuss'"):
        _registry(make_config).register(Typo(), "typo")


def test_raw_calls_and_hook_names_for_the_contract_kit(make_config) -> None:
    class Misspelt(Fixed):
        @hookimpl
        def reelpick_simlar(self, movie_id, k):
            return []

    registry = _registry(make_config, enabled=["unsorted"])
    registry.register(Unsorted(), "unsorted")
    registry.check_hooks()
    # Untrimmed and unchecked: exactly what the plugin returned.
    assert registry.call_unchecked("unsorted", "reelpick_similar", movie_id=1, k=1) == [
        Neighbour(2, 0.1),
        Neighbour(3, 0.8),
    ]
    assert not registry.implements("unsorted", "reelpick_predict")
    registry.register(Misspelt(), "misspelt")
    with pytest.raises(PluginError, match="reelpick_simlar"):
        registry.check_hooks()


def test_the_registry_stops_at_the_first_broken_rule(make_config, ml_small) -> None:
    class ReturnsQuery(Fixed):
        @hookimpl
        def reelpick_similar(self, movie_id, k):
            return [Neighbour(movie_id, 1.0), Neighbour(99999999, 0.5)]

    registry = _registry(make_config, enabled=["query"])
    registry.register(ReturnsQuery(), "query")
    registry.fit(ml_small)
    assert registry.ask("query", 1, 5).error == (
        "PluginError: reelpick_similar returned movie 99999999, which is not in the dataset"
    )
    assert registry.ask("query", 1, 1).error == (
        "PluginError: reelpick_similar returned the query movie itself"
    )


# -- declared needs ------------------------------------------------------------------------


class Maker:
    """A plugin that provides product ``made`` and needs what ``needs`` lists; it appends
    ``name`` to ``log`` when fitted and keeps what it was handed in ``got``."""

    def __init__(
        self, log: list[str], needs: tuple[Need, ...] = (), made: str = "", name: str = ""
    ) -> None:
        self.log, self.needs, self.made, self.name = log, needs, made, name
        self.got: dict[str, object] = {}

    @hookimpl
    def reelpick_plugin_info(self):
        return PluginInfo(
            label="Maker",
            description="test",
            params={"use": True},
            needs=self.needs,
            provides=(self.made,) if self.made else (),
        )

    @hookimpl
    def reelpick_fit(self, dataset, params, store, needs):
        self.log.append(self.name)
        self.got = dict(needs)

    @hookimpl
    def reelpick_provide(self, product):
        return f"{product} of a fitted plugin" if product == self.made else None

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return []


def _with_makers(make_config, enabled: list[str], **plugins: Maker) -> Registry:
    registry = Registry(make_config(enabled=enabled), load_entry_points=False, load_builtins=False)
    for name, plugin in plugins.items():
        registry.register(plugin, name)
    return registry


def test_a_plugin_is_fitted_after_the_plugin_it_needs(make_config, ml_small) -> None:
    order: list[str] = []
    user = Maker(order, needs=(Need("grain"),), name="user")
    miller = Maker(order, needs=(Need("wheat"),), made="grain", name="miller")
    farmer = Maker(order, made="wheat", name="farmer")
    # Listed dependants first: the registry still fits farmer, then miller, then user.
    registry = _with_makers(
        make_config, ["user", "miller", "farmer"], user=user, miller=miller, farmer=farmer
    )
    assert registry.fit(ml_small) == {"user": None, "miller": None, "farmer": None}
    assert order == ["farmer", "miller", "user"]
    assert user.got == {"grain": "grain of a fitted plugin"}
    assert miller.got == {"wheat": "wheat of a fitted plugin"} and farmer.got == {}
    # Asked for the user alone, the enabled providers are fitted first; only it is reported.
    order.clear()
    assert registry.fit(ml_small, ["user"]) == {"user": None}
    assert order == ["user"]  # farmer and miller were fitted on this dataset already


def test_a_missing_provider_is_one_line(make_config, ml_small) -> None:
    registry = _with_makers(
        make_config,
        ["user"],
        user=Maker([], needs=(Need("grain", when="use"),)),
        miller=Maker([], made="grain"),
        other=Maker([]),
    )
    assert registry.fit(ml_small) == {
        "user": "user needs grain, which no enabled plugin provides: enable miller in "
        "[plugins] enabled, or set use = false in [plugins.user]"
    }
    assert not registry.plugins["user"].fitted and not registry.plugins["miller"].fitted
    registry.plugins["user"].params["use"] = False  # the need is switched off
    assert registry.fit(ml_small) == {"user": None}
    lonely = _with_makers(make_config, ["user"], user=Maker([], needs=(Need("grain"),)))
    assert lonely.fit(ml_small) == {
        "user": "user needs grain, which no enabled plugin provides: install a plugin that "
        "provides it"
    }


def test_a_cycle_of_needs_is_refused_in_one_line(make_config, ml_small) -> None:
    registry = _with_makers(
        make_config,
        ["hen", "egg", "bystander"],
        hen=Maker([], needs=(Need("egg"),), made="hen"),
        egg=Maker([], needs=(Need("hen"),), made="egg"),
        bystander=Maker([]),
    )
    line = (
        "plugins that need each other cannot be fitted: hen needs egg from egg, "
        "egg needs hen from hen"
    )
    assert registry.fit(ml_small) == {"hen": line, "egg": line, "bystander": None}


def test_a_provider_that_fails_is_named_in_its_dependants_error(make_config, ml_small) -> None:
    class FailingMiller(Maker):
        @hookimpl
        def reelpick_fit(self, dataset, params, store, needs):
            raise ValueError("no water")

    registry = _with_makers(
        make_config,
        ["miller", "user"],
        miller=FailingMiller([], made="grain"),
        user=Maker([], needs=(Need("grain"),)),
    )
    assert registry.fit(ml_small) == {
        "miller": "ValueError: no water",
        "user": "user needs grain from miller, which could not be fitted (ValueError: no water)",
    }


def test_a_need_switched_by_an_unknown_parameter_is_refused_at_load(make_config) -> None:
    registry = _with_makers(make_config, [])
    with pytest.raises(PluginError, match="unknown parameter 'nope'"):
        registry.register(Maker([], needs=(Need("grain", when="nope"),)), "user")
