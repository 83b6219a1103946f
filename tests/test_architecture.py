"""The shape of the house, checked: imports run one way, nothing imports in a circle, no module
grows past one job.

Rules (docs/architecture.md explains them):

- ``bot`` → ``core`` ← ``plugins``: plugins never import ``reelpick.bot``; core never imports
  the bot except in the one CLI module that starts it (:data:`BOT_STARTER`); the bot imports
  no plugin.
- Built-in plugins import only the public API (the package root ``reelpick`` and the
  namespaces it exports, :data:`PUBLIC_NAMESPACES`) and their own private modules
  ``plugins/_<name>_*.py``, never another plugin's, exactly as an external plugin must.
- Modules inside core never import the package root ``reelpick`` (it imports most of core).
- No import cycles, counting imports inside functions. Imports under ``if TYPE_CHECKING:``
  never run, so they count for the direction rules but not for cycles.
- No module outside tests/ and bench/ over :data:`MAX_LINES` lines.

The checker works on any folder laid out like this repository, which is how the negative
cases below show it failing::

    >>> tree = {"core/__init__.py": "", "core/a.py": "from .b import x",
    ...         "core/b.py": "def f():\\n    from .a import y"}
    >>> find_cycles(import_graph(module_files(tree_root(tree)))[0])
    [['reelpick.a', 'reelpick.b']]
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500
# folder -> the package it is installed as (pyproject.toml's package-dir)
PACKAGES = {"core": "reelpick", "plugins": "reelpick.plugins", "bot": "reelpick.bot"}
BOT_STARTER = "reelpick.cli.bot"  # the one core module allowed to import the bot


# -- the checker -------------------------------------------------------------------------


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of core/, plugins/ and bot/ under root."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            elif parts[-1] == "__main__":
                continue  # runs as a script, never imported
            found[".".join([package, *parts])] = path
    return found


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers of statements inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    if hasattr(inner, "lineno"):
                        lines.add(inner.lineno)
    return lines


def _imports(name: str, files: dict[str, Path]) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, type-only) for every import statement of module ``name``."""
    tree = ast.parse(files[name].read_text(), str(files[name]))
    type_only = _type_checking_lines(tree)
    package = name if _is_package(name, files) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, node.lineno in type_only
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from pkg import sub`` imports the submodule pkg.sub when there is one.
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in files]
            for imported in subs or [target]:
                yield imported, node.lineno, node.lineno in type_only


def _owner(imported: str, files: dict[str, Path]) -> str | None:
    """The module of ours that ``imported`` names (itself or its nearest parent), if any."""
    while imported:
        if imported in files:
            return imported
        imported = imported.rpartition(".")[0]
    return None


def import_graph(
    files: dict[str, Path],
) -> tuple[dict[str, set[str]], list[tuple[str, str, int, bool]]]:
    """The runtime import graph among our modules, and every import edge with line and kind."""
    graph: dict[str, set[str]] = {name: set() for name in files}
    edges: list[tuple[str, str, int, bool]] = []
    for name in files:
        for imported, line, type_only in _imports(name, files):
            target = _owner(imported, files)
            if target is None or target == name:
                continue
            edges.append((name, target, line, type_only))
            if not type_only:
                graph[name].add(target)
    return graph, edges


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


# Sub-packages the root exports as namespaces of the public API (in reelpick.__all__).
PUBLIC_NAMESPACES = {"reelpick.sgd"}


def plugin_family(module: str) -> str:
    """The plugin a module of ``reelpick.plugins`` belongs to, by the first word of its name:
    ``hybrid`` for ``hybrid`` and ``_hybrid_model``, ``vgg16`` for ``vgg16_poster``."""
    return module.rpartition(".")[2].lstrip("_").split("_")[0]


def plugin_may_import(source: str, target: str) -> bool:
    """A plugin module imports the public API, or a private module of its own plugin."""
    if target == "reelpick" or target in PUBLIC_NAMESPACES:
        return True
    private = target.startswith("reelpick.plugins._")
    return private and plugin_family(target) == plugin_family(source)


def direction_violations(edges: list[tuple[str, str, int, bool]]) -> list[str]:
    """Imports that run against ``bot → core ← plugins`` or around the public plugin API."""
    problems = []
    for source, target, line, _ in edges:
        where = f"{source} (line {line}) imports {target}"
        in_bot = source.startswith("reelpick.bot")
        in_plugins = source.startswith("reelpick.plugins")
        in_core = not in_bot and not in_plugins
        if in_plugins and target.startswith("reelpick.bot"):
            problems.append(f"{where}: plugins never import the bot")
        elif in_plugins and not plugin_may_import(source, target):
            problems.append(
                f"{where}: a plugin imports only the public API (from reelpick import ...) "
                "and its own plugins/_<name>_*.py"
            )
        elif in_core and target.startswith("reelpick.bot") and source != BOT_STARTER:
            problems.append(f"{where}: core never imports the bot (only {BOT_STARTER} starts it)")
        elif in_core and target.startswith("reelpick.plugins"):
            problems.append(f"{where}: core finds plugins through the registry, never by import")
        elif in_core and target == "reelpick" and source != "reelpick":
            problems.append(f"{where}: inside core, import the defining module, not the root")
        elif in_bot and target.startswith("reelpick.plugins"):
            problems.append(f"{where}: the bot reaches plugins only through the registry")
    return problems


def oversize_modules(root: Path, limit: int = MAX_LINES) -> list[str]:
    """Python files outside tests/ and bench/ with more than ``limit`` lines."""
    problems = []
    for path in sorted(_python_files(root)):
        relative = path.relative_to(root)
        if relative.parts[0] in ("tests", "bench"):
            continue
        lines = len(path.read_text().splitlines())
        if lines > limit:
            problems.append(f"{relative}: {lines} lines (at most {limit}: split it by job)")
    return problems


def _python_files(root: Path) -> list[Path]:
    """Tracked and untracked-but-not-ignored .py files (the repository's own, not .venv)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return [root / name for name in listed if (root / name).exists()]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (the negative cases)
        return [p for p in root.rglob("*.py") if ".venv" not in p.parts]


def tree_root(tree: dict[str, str], root: Path | None = None) -> Path:
    """Write a small repository-like tree of files (for the checker's own tests)."""
    if root is None:
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="reelpick-arch-"))
    for name, text in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# -- the rules, on this repository ----------------------------------------------------------


@pytest.fixture(scope="module")
def repository() -> tuple[dict[str, Path], dict[str, set[str]], list]:
    files = module_files(ROOT)
    graph, edges = import_graph(files)
    return files, graph, edges


def test_the_checker_sees_the_whole_house(repository):
    files, _, edges = repository
    for expected in ("reelpick", "reelpick.registry", "reelpick.plugins.cosine_cf", "reelpick.bot"):
        assert expected in files
    assert len(edges) > 50  # the parser found the imports, not an empty graph


def test_no_import_cycles(repository):
    _, graph, _ = repository
    assert find_cycles(graph) == []


def test_imports_run_one_way(repository):
    _, _, edges = repository
    assert direction_violations(edges) == []


def test_no_module_over_the_limit():
    assert oversize_modules(ROOT) == []


# -- the checker fails when it should -------------------------------------------------------

NEGATIVE_CASES = {
    "cycle through a function-level import": (
        {
            "core/__init__.py": "",
            "core/a.py": "from .b import x\n",
            "core/b.py": "def f():\n    from .a import y\n    return y\n",
        },
        "cycle",
    ),
    "cycle through a package's __init__": (
        {
            "core/__init__.py": "",
            "core/app.py": "from .data import load\n",
            "core/data/__init__.py": "from .loader import load\n",
            "core/data/loader.py": "from ..app import opened\n",
        },
        "cycle",
    ),
    "plugin importing the bot": (
        {"core/__init__.py": "", "bot/__init__.py": "", "plugins/p.py": "import reelpick.bot\n"},
        "direction",
    ),
    "plugin reaching past the public API": (
        {
            "core/__init__.py": "",
            "core/cache.py": "",
            "plugins/p.py": "from reelpick.cache import x\n",
        },
        "direction",
    ),
    "plugin importing another plugin": (
        {
            "core/__init__.py": "",
            "plugins/__init__.py": "",
            "plugins/hybrid.py": "from .vgg16_poster import FeatureStore\n",
            "plugins/vgg16_poster.py": "",
        },
        "direction",
    ),
    "plugin importing another plugin's private module": (
        {
            "core/__init__.py": "",
            "plugins/__init__.py": "",
            "plugins/hybrid.py": "from ._sgd_model import fit_factors\n",
            "plugins/_sgd_model.py": "",
        },
        "direction",
    ),
    "core importing the bot outside the starter": (
        {
            "core/__init__.py": "",
            "core/app.py": "def f():\n    from reelpick.bot import app\n",
            "bot/__init__.py": "",
            "bot/app.py": "",
        },
        "direction",
    ),
    "a module over the limit": (
        {"core/__init__.py": "", "core/big.py": "x = 1\n" * (MAX_LINES + 1)},
        "size",
    ),
}


@pytest.mark.parametrize("case", sorted(NEGATIVE_CASES))
def test_the_checker_fails_on_a_broken_house(case, tmp_path):
    tree, kind = NEGATIVE_CASES[case]
    root = tree_root(tree, tmp_path)
    graph, edges = import_graph(module_files(root))
    found = {
        "cycle": find_cycles(graph),
        "direction": direction_violations(edges),
        "size": oversize_modules(root),
    }
    assert found[kind], f"{case}: not detected"
    assert not any(v for k, v in found.items() if k != kind), f"{case}: other rules fired {found}"


def test_the_starter_may_import_the_bot(tmp_path):
    tree = {
        "core/__init__.py": "",
        "core/cli/__init__.py": "",
        "core/cli/bot.py": "def run():\n    from reelpick.bot.main import run_cli\n",
        "bot/__init__.py": "",
        "bot/main.py": "from reelpick.app import Reelpick\n",
        "core/app.py": "",
    }
    graph, edges = import_graph(module_files(tree_root(tree, tmp_path)))
    assert direction_violations(edges) == []
    assert find_cycles(graph) == []


def test_every_package_is_installed():
    """pyproject.toml lists packages one by one (package-dir maps folders to names): a new
    sub-package missing there works in an editable install and is absent from a wheel."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    files = module_files(ROOT)
    packages = {name for name, path in files.items() if path.name == "__init__.py"}
    assert packages - listed == set()


# -- bot features ---------------------------------------------------------------------------
# A bot feature is a module or package right under bot/ that is neither a shared module
# (reelpick.bot.SHARED_MODULES) nor the wiring that puts the features together. Features
# import shared modules only, never each other nor the wiring; shared modules import no
# feature; every feature has one ``register(application, services)``.

BOT = PACKAGES["bot"]
BOT_WIRING = ("app", "main")  # build the application from every feature, then run it
REGISTER = "def register(application: BotApplication, services: BotServices) -> None"


def _bot_shared_modules() -> tuple[str, ...]:
    from reelpick.bot import SHARED_MODULES

    return SHARED_MODULES


def bot_part(module: str, shared: tuple[str, ...]) -> tuple[str, str] | None:
    """("feature" | "shared" | "wiring", name) of a module of the bot; None outside it or for
    the package root."""
    if not module.startswith(BOT + "."):
        return None
    name = module[len(BOT) + 1 :].split(".")[0]
    if name in shared:
        return "shared", name
    if name in BOT_WIRING:
        return "wiring", name
    return "feature", name


def feature_import_violations(
    edges: list[tuple[str, str, int, bool]], shared: tuple[str, ...]
) -> list[str]:
    """Imports between bot features, from a feature into the wiring, or from a shared module
    into a feature (type-only imports count: they couple the modules all the same)."""
    problems = []
    for source, target, line, _ in edges:
        where = f"{source} (line {line}) imports {target}"
        src, tgt = bot_part(source, shared), bot_part(target, shared)
        if src is None or tgt is None or src == tgt:
            continue
        if src[0] == "feature" and tgt[0] == "feature":
            problems.append(f"{where}: features never import each other (share a module)")
        elif src[0] == "feature" and tgt[0] == "wiring":
            problems.append(f"{where}: features never import the wiring")
        elif src[0] == "shared" and tgt[0] == "feature":
            problems.append(f"{where}: shared modules import no feature")
    return problems


def _register_of(module: str, files: dict[str, Path]) -> ast.FunctionDef | None:
    """The ``register`` function a module defines, or imports from one of ours."""
    tree = ast.parse(files[module].read_text(), str(files[module]))
    package = module if _is_package(module, files) else module.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "register":
            return node
        if isinstance(node, ast.ImportFrom) and any(a.name == "register" for a in node.names):
            base = package.split(".")[: len(package.split(".")) - max(0, node.level - 1)]
            target = ".".join(base + [node.module or ""]) if node.level else node.module or ""
            if target in files and target != module:
                return _register_of(target, files)
    return None


def register_violations(files: dict[str, Path], shared: tuple[str, ...]) -> list[str]:
    """Features without exactly the one ``register`` signature every feature has."""
    features = sorted(
        {part[1] for name in files if (part := bot_part(name, shared)) and part[0] == "feature"}
    )
    problems = []
    for feature in features:
        module = f"{BOT}.{feature}"
        if module not in files:
            problems.append(f"{module}: a feature folder without an __init__.py")
            continue
        found = _register_of(module, files)
        if found is None:
            problems.append(f"{module}: no register function ({REGISTER})")
            continue
        signature = f"def register({ast.unparse(found.args)})" + (
            f" -> {ast.unparse(found.returns)}" if found.returns else ""
        )
        if signature != REGISTER or found.decorator_list:
            problems.append(f"{module}: {signature} (every feature has: {REGISTER})")
    return problems


def test_bot_features_import_only_shared_modules(repository):
    _, _, edges = repository
    assert feature_import_violations(edges, _bot_shared_modules()) == []


def test_every_bot_feature_registers_the_same_way(repository):
    files, _, _ = repository
    shared = _bot_shared_modules()
    assert register_violations(files, shared) == []
    for name in shared:
        assert f"{BOT}.{name}" in files, f"SHARED_MODULES names {name}, which is not in bot/"


_FEATURE_TREE = {
    "core/__init__.py": "",
    "bot/__init__.py": "",
    "bot/services.py": "class BotServices: ...\n",
    "bot/app.py": "from . import photo, titles\n",
    "bot/titles.py": f"from .services import BotServices\n\n\n{REGISTER}: ...\n",
    "bot/photo/__init__.py": f"from ..services import BotServices\n\n\n{REGISTER}: ...\n",
}
BOT_NEGATIVE_CASES = {
    "a feature importing another feature": (
        {"bot/photo/handlers.py": "from ..titles import answer_movie\n"},
        "imports",
    ),
    "a feature importing another through a function": (
        {"bot/photo/handlers.py": "def f():\n    from reelpick.bot.titles import x\n"},
        "imports",
    ),
    "a feature importing the wiring": (
        {"bot/titles.py": f"from .app import build\n\n\n{REGISTER}: ...\n"},
        "imports",
    ),
    "a shared module importing a feature": (
        {"bot/services.py": "from .photo import register\n"},
        "imports",
    ),
    "a feature registering with other arguments": (
        {"bot/titles.py": "def register(application, config, *, services): ...\n"},
        "register",
    ),
    "a feature registering through an object": (
        {"bot/photo/__init__.py": "class Photo:\n    def register(self, application): ...\n"},
        "register",
    ),
}


@pytest.mark.parametrize("case", sorted(BOT_NEGATIVE_CASES))
def test_the_feature_checks_fail_on_a_broken_bot(case, tmp_path):
    extra, kind = BOT_NEGATIVE_CASES[case]
    files = module_files(tree_root({**_FEATURE_TREE, **extra}, tmp_path))
    _, edges = import_graph(files)
    shared = ("services",)
    found = {
        "imports": feature_import_violations(edges, shared),
        "register": register_violations(files, shared),
    }
    assert found[kind], f"{case}: not detected"
    assert not any(v for k, v in found.items() if k != kind), f"{case}: other rules fired {found}"


def test_a_well_built_bot_passes_the_feature_checks(tmp_path):
    files = module_files(tree_root(_FEATURE_TREE, tmp_path))
    _, edges = import_graph(files)
    assert feature_import_violations(edges, ("services",)) == []
    assert register_violations(files, ("services",)) == []


# -- the tests: no test module imports another ---------------------------------------------


def imports_of_test_modules(tests: Path) -> list[str]:
    """``file:line imports name`` for every import, anywhere under ``tests``, of a test module
    (``test_*``): shared helpers live in tests/support/, shared fixtures in a conftest.py."""
    found: list[str] = []
    for path in sorted(tests.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name.rpartition(".")[2].startswith("test_"):
                    found.append(f"{path.relative_to(tests)}:{node.lineno} imports {name}")
    return found


def test_no_test_module_imports_another():
    assert imports_of_test_modules(ROOT / "tests") == []


def test_the_checker_finds_a_test_module_imported(tmp_path):
    tree = {
        "tests/__init__.py": "",
        "tests/support/__init__.py": "",
        "tests/support/chats.py": "USER = 1\n",
        "tests/bot/__init__.py": "",
        "tests/bot/test_a.py": "from tests.support.chats import USER\n",
        "tests/bot/test_b.py": (
            "from tests.bot.test_a import USER\n"
            "from tests.bot import test_a\n"
            "import test_a\n"
            "def test_b():\n    from .test_a import USER\n"
        ),
    }
    tests = tree_root(tree, tmp_path) / "tests"
    assert imports_of_test_modules(tests) == [
        "bot/test_b.py:1 imports tests.bot.test_a",
        "bot/test_b.py:2 imports tests.bot.test_a",
        "bot/test_b.py:3 imports test_a",
        "bot/test_b.py:5 imports .test_a",
    ]


def test_a_plugin_may_import_its_own_private_modules(tmp_path):
    tree = {
        "core/__init__.py": "",
        "core/sgd/__init__.py": "",
        "plugins/__init__.py": "",
        "plugins/vgg16_poster.py": "from reelpick import sgd\nfrom ._vgg16_store import X\n",
        "plugins/_vgg16_store.py": "from reelpick import Dataset\n",
    }
    graph, edges = import_graph(module_files(tree_root(tree, tmp_path)))
    assert direction_violations(edges) == []


def test_public_namespaces_are_exported_by_the_root():
    import reelpick

    assert {f"reelpick.{name}" for name in reelpick.__all__} >= PUBLIC_NAMESPACES
