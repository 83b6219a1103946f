"""People's data in the state folder: moved out of an older installation's cache folder with
nothing lost, backed up while in use, restored, and never touched by cache pruning."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from reelpick.backup import backup, backups, restore
from reelpick.cache import ArtifactStore
from reelpick.cli import main
from reelpick.errors import ReelpickError
from reelpick.profiles import ProfileStore
from reelpick.state import BotLock, hold_bot_lock, people_stores, prepare_state


@pytest.fixture
def config(make_config, tmp_path: Path):
    return make_config(f'[state]\ndir = "{tmp_path / "state"}"\n')


def nights_file(path: Path, rows: list[str]) -> None:
    """A WAL-mode SQLite file whose rows stay in its write-ahead log (the writer stays open
    while the caller copies, as a running bot would)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS nights (title TEXT)")
    db.executemany("INSERT INTO nights VALUES (?)", [(r,) for r in rows])
    return db


def titles(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT title FROM nights ORDER BY rowid")]
    finally:
        db.close()


def test_people_data_is_in_the_state_folder_not_the_cache(config) -> None:
    settings = config.settings
    for store in people_stores(settings):
        assert store.path.is_relative_to(settings.state.dir), store
        assert not store.path.is_relative_to(settings.cache.dir), store


def test_an_old_installation_is_moved_out_of_the_cache_with_every_row(config, caplog) -> None:
    cache = config.cache_dir
    cache.mkdir(parents=True)
    with ProfileStore(cache / "profiles.sqlite3") as old:
        old.rate("tg:7", 1, 4.5)
        old.mark_seen("tg:7", 2)
    writer = nights_file(cache / "movienight.sqlite3", ["Heat", "Alien"])
    try:
        assert (cache / "movienight.sqlite3-wal").stat().st_size > 0  # rows only in the log
        with caplog.at_level("INFO", logger="reelpick.state"):
            moved = prepare_state(config.settings)
    finally:
        writer.close()
    assert len(moved) == 2 and len(caplog.records) == 2
    assert not any(cache.glob("*.sqlite3*"))

    shutil.rmtree(cache)
    with ProfileStore(config.settings.bot.profiles_db) as store:
        profile = store.profile("tg:7")
        assert dict(profile.ratings) == {1: 4.5} and profile.seen == {2}
    assert titles(config.settings.movienight.db) == ["Heat", "Alien"]
    assert prepare_state(config.settings) == []  # nothing left to move


def test_a_state_folder_with_data_is_never_overwritten(config) -> None:
    new = config.settings.movienight.db
    new.parent.mkdir(parents=True)
    nights_file(new, ["Kept"]).close()
    config.cache_dir.mkdir(parents=True)
    nights_file(config.cache_dir / "movienight.sqlite3", ["Old"]).close()

    (line,) = prepare_state(config.settings)
    assert "both are kept" in line
    assert titles(new) == ["Kept"]
    (beside,) = new.parent.glob("movienight.from-cache-*.sqlite3")
    assert titles(beside) == ["Old"]
    assert not (config.cache_dir / "movienight.sqlite3").exists()


def test_a_configured_file_in_the_cache_folder_stays_where_it_is(make_config, tmp_path) -> None:
    db = tmp_path / "cache" / "profiles.sqlite3"
    config = make_config(f'[bot]\nprofiles_db = "{db}"\n')
    with ProfileStore(db) as store:
        store.rate("tg:1", 1, 3.0)
    assert prepare_state(config.settings) == []
    assert db.is_file()


def test_backup_while_in_use_then_restore_brings_the_data_back(config, tmp_path) -> None:
    settings = config.settings
    prepare_state(settings)
    store = ProfileStore(settings.bot.profiles_db)
    store.rate("tg:7", 10, 5.0)
    writer = nights_file(settings.movienight.db, ["Heat"])  # open, as in a running bot
    done = backup(settings, tmp_path / "backups")
    manifest = json.loads((done.folder / "manifest.json").read_text())
    assert set(manifest["stores"]) == {"profiles", "movienight"}

    store.rate("tg:7", 10, 1.0)
    store.forget("tg:7")
    writer.execute("DELETE FROM nights")
    writer.execute("INSERT INTO nights VALUES ('Changed')")
    store.close()
    writer.close()

    result = restore(settings, tmp_path / "backups")  # the newest backup in the folder
    assert result.folder == done.folder and result.kept_in is not None
    with ProfileStore(settings.bot.profiles_db) as back:
        assert dict(back.profile("tg:7").ratings) == {10: 5.0}
    assert titles(settings.movienight.db) == ["Heat"]
    assert titles(result.kept_in / "movienight.sqlite3") == ["Changed"]


def test_a_damaged_backup_changes_nothing(config, tmp_path) -> None:
    prepare_state(config.settings)
    with ProfileStore(config.settings.bot.profiles_db) as store:
        store.rate("tg:7", 10, 5.0)
    nights_file(config.settings.movienight.db, ["Heat"]).close()
    done = backup(config.settings, tmp_path / "backups")
    (done.folder / "movienight.sqlite3").write_bytes(b"not a database, " * 100)
    with ProfileStore(config.settings.bot.profiles_db) as store:
        store.rate("tg:7", 10, 2.0)

    with pytest.raises(ReelpickError, match="cannot restore movienight .*nothing changed"):
        restore(config.settings, done.folder)
    with ProfileStore(config.settings.bot.profiles_db) as store:
        assert dict(store.profile("tg:7").ratings) == {10: 2.0}
    assert titles(config.settings.movienight.db) == ["Heat"]
    assert sorted(p.name for p in config.settings.state.dir.iterdir()) == [
        "bot.lock",
        "movienight.sqlite3",
        "profiles.sqlite3",
    ]  # no partial copies, no safety folder


def test_restore_is_refused_while_the_bot_holds_the_state_folder(config, tmp_path) -> None:
    prepare_state(config.settings)
    nights_file(config.settings.movienight.db, ["Heat"]).close()
    done = backup(config.settings, tmp_path / "backups")
    running = hold_bot_lock(config.settings)
    try:
        with pytest.raises(ReelpickError, match="the bot is running"):
            restore(config.settings, done.folder)
    finally:
        running.release()
    with BotLock(config.settings.state.dir, exclusive=True) as restoring:
        assert restoring.acquire()
        with pytest.raises(ReelpickError, match="a restore is replacing"):
            hold_bot_lock(config.settings)
    assert restore(config.settings, done.folder).stores == ["movienight"]


def test_backups_rotate(config, tmp_path) -> None:
    prepare_state(config.settings)
    nights_file(config.settings.movienight.db, ["Heat"]).close()
    made = [backup(config.settings, tmp_path / "b", keep=2).folder for _ in range(3)]
    assert backups(tmp_path / "b") == made[1:]


def cli(config, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config.path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_backup_and_restore_commands(config, tmp_path, capsys) -> None:
    code, out, err = cli(config, capsys, "backup", str(tmp_path / "b"))
    assert code == 1 and out == "" and err.count("\n") == 1 and "nothing to back up" in err

    prepare_state(config.settings)
    with ProfileStore(config.settings.bot.profiles_db) as store:
        store.rate("local:me", 3, 4.0)
    code, out, _ = cli(config, capsys, "backup", str(tmp_path / "b"), "--json")
    assert code == 0 and set(json.loads(out)["stores"]) == {"profiles"}
    with ProfileStore(config.settings.bot.profiles_db) as store:
        store.forget("local:me")
    code, out, _ = cli(config, capsys, "restore", str(tmp_path / "b"))
    assert code == 0 and out.startswith("restored profiles from ")
    with ProfileStore(config.settings.bot.profiles_db) as store:
        assert dict(store.profile("local:me").ratings) == {3: 4.0}

    code, out, err = cli(config, capsys, "restore", str(tmp_path / "nowhere"))
    assert code == 1 and out == "" and err.count("\n") == 1 and "no backup there" in err
    code, _, err = cli(config, capsys, "backup", str(tmp_path / "b"), "--keep", "0")
    assert code == 2 and "--keep must be between 1" in err


def test_prune_keeps_a_plugins_own_stores_and_removes_emptied_folders(
    make_config, small_movielens, capsys, tmp_path
) -> None:
    config = make_config(data=small_movielens, enabled=["cosine-cf"])
    assert main(["--config", str(config.path), "-q", "fit"]) == 0
    cache = config.cache_dir
    factors = ArtifactStore(cache, "hybrid-factors", data="ratings", version="1", params={})
    factors.save_arrays("factors", x=[1.0])
    model = ArtifactStore(cache, "hybrid-model", data="content", version="1", params={})
    model.save_arrays("model", x=[1.0])
    old = ArtifactStore(cache, "hybrid-model", data="content", version="0", params={})
    old.save_arrays("model", x=[1.0])
    gone = ArtifactStore(cache, "uninstalled-plugin", data="x")
    gone.save_arrays("table", values=[1, 2, 3])
    (cache / "profiles.sqlite3").write_bytes(b"")  # people's data of an older installation

    code, out, _ = cli(config, capsys, "cache", "prune", "--json")
    removed = {row["path"]: row["reason"] for row in json.loads(out)["removed"]}
    assert code == 0 and removed == {
        str(old.path): "plugin version 0 (now 1)",
        str(gone.path): "plugin not installed or not enabled",
    }
    assert factors.path.is_dir() and model.path.is_dir()
    assert not (cache / "uninstalled-plugin").exists()
    assert not (cache / "profiles.sqlite3").exists()  # moved out first, not deleted
    assert (config.settings.state.dir / "profiles.sqlite3").exists()
    assert os.listdir(cache / "hybrid-model") == [model.path.name]
