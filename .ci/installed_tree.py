"""Run a static tool (mypy, lint-imports) on the package as it is installed.

pyproject.toml maps folders to packages (core/ is `reelpick`, plugins/ is `reelpick.plugins`,
bot/ is `reelpick.bot`), and the editable install serves that mapping through an import hook,
which static tools cannot follow. This script builds the installed layout as a tree of
symbolic links under build/package-tree (so edits show at once), runs the tool with that
tree first on the search path, and writes the tool's file names back as repository paths.

    .venv/bin/python .ci/installed_tree.py mypy            # the type check (pyproject [tool.mypy])
    .venv/bin/python .ci/installed_tree.py lint-imports    # the import contracts
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "package-tree"
TOOLS = {
    "mypy": ["-m", "mypy"],
    "lint-imports": ["-c", "import sys, importlinter.cli as c; sys.exit(c.lint_imports_command())"],
}


def package_dirs() -> dict[str, str]:
    """The `package-dir` table of pyproject.toml: package name -> folder."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]["package-dir"]


def build_tree(mapping: dict[str, str]) -> dict[str, str]:
    """Link every mapped folder into TREE; returns tree prefix -> repository prefix.

    A package that holds another mapped package (`reelpick` holds `reelpick.plugins`) becomes
    a real folder of links to its entries, so the nested one can sit beside them.
    """
    shutil.rmtree(TREE, ignore_errors=True)
    TREE.mkdir(parents=True)
    prefixes = {}
    for name, folder in sorted(mapping.items()):
        target = TREE.joinpath(*name.split("."))
        source = ROOT / folder
        nested = [other for other in mapping if other.startswith(name + ".")]
        if nested:
            target.mkdir(parents=True, exist_ok=True)
            children = {other[len(name) + 1 :].split(".")[0] for other in nested}
            for entry in source.iterdir():
                if entry.name not in children and entry.name != "__pycache__":
                    (target / entry.name).symlink_to(entry)
        else:
            target.symlink_to(source, target_is_directory=True)
        prefixes[f"{target.relative_to(ROOT)}/"] = f"{folder}/"
    return prefixes


def to_repository_paths(line: str, prefixes: dict[str, str]) -> str:
    """Rewrite tree paths in one line of output as the repository paths they link to."""
    for tree_prefix, folder in sorted(prefixes.items(), key=lambda item: -len(item[0])):
        line = line.replace(tree_prefix, folder)
    return line


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(f"usage: installed_tree.py {{{','.join(TOOLS)}}} [ARGS...]", file=sys.stderr)
        return 2
    prefixes = build_tree(package_dirs())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TREE), env.get("PYTHONPATH")]))
    env["MYPYPATH"] = str(TREE.relative_to(ROOT))
    command = [sys.executable, *TOOLS[argv[0]], *argv[1:]]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(to_repository_paths(line, prefixes))
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
