"""The repository's own conventions: its tests read nothing outside it, CI runs tox's matrix.

A clone in a new folder, with nothing beside it, must run the whole suite: every file a test
reads lives in the repository (the test vectors under ``tests/vectors``).
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
THIS = Path(__file__).resolve()


def python_sources_of_tests() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if path.resolve() != THIS)


# --- no test reads outside the repository ------------------------------------------------------


def _climbs_out(path: Path, tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``Path(__file__)...parents[k]`` or ``.parent`` chains that go above the repository."""
    depth = len(path.relative_to(ROOT).parts)  # tests/x.py: 2; its parents[1] is the root
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
            and node.slice.value > depth - 1
            and "__file__" in ast.unparse(node.value)
        ):
            yield node.lineno, ast.unparse(node)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            chain, inner = 0, node
            while isinstance(inner, ast.Attribute) and inner.attr == "parent":
                chain, inner = chain + 1, inner.value
            if chain > depth and "__file__" in ast.unparse(inner):
                yield node.lineno, ast.unparse(node)


def _dot_dot_paths(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``".."`` joined onto a path (``path / ".."``, ``Path("../x")``, ``open("../x")``)."""

    def upward(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (node.value == ".." or node.value.startswith("../") or "/../" in node.value)
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if upward(node.left) or upward(node.right):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            if name in {"Path", "PurePath", "open", "joinpath", "join"} and any(
                upward(arg) for arg in node.args
            ):
                yield node.lineno, ast.unparse(node)


def _names_a_neighbour(text: str) -> Iterator[tuple[int, str]]:
    """An absolute path into the folder that holds the repository (a sibling checkout)."""
    folder = ROOT.parent
    patterns = [re.compile(r"\.\./shared\b")]
    if len(folder.parts) > 1:  # a repository at the file system's root has no neighbours
        patterns.append(re.compile(rf"(?<![\w.:/-]){re.escape(str(folder))}/"))
    for number, line in enumerate(text.splitlines(), 1):
        if any(pattern.search(line) for pattern in patterns):
            yield number, line.strip()


def test_no_test_reads_outside_the_repository() -> None:
    found = []
    for path in python_sources_of_tests():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, str(path))
        hits = [*_climbs_out(path, tree), *_dot_dot_paths(tree), *_names_a_neighbour(text)]
        found += [f"{path.relative_to(ROOT)}:{line}: {code}" for line, code in hits]
    assert not found, "tests refer to paths outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("relative", "code", "found"),
    [
        ("tests/test_x.py", 'Path(__file__).resolve().parents[2] / "shared"', True),
        ("tests/test_x.py", "Path(__file__).resolve().parents[1]", False),
        ("tests/e2e/conftest.py", "Path(__file__).resolve().parents[2]", False),
        ("tests/test_x.py", "Path(__file__).parent.parent.parent", True),
        ("tests/test_x.py", "Path(__file__).parent.parent", False),
        ("tests/test_x.py", 'ROOT / ".." / "shared"', True),
        ("tests/test_x.py", 'open("../shared/x.json")', True),
        ("tests/test_x.py", 'kid = "../../../etc/passwd"', False),  # a value, not a path read
    ],
)
def test_the_outside_reference_check_finds_what_it_should(relative, code, found) -> None:
    path, tree = ROOT / relative, ast.parse(code)
    hits = [*_climbs_out(path, tree), *_dot_dot_paths(tree), *_names_a_neighbour(code)]
    assert bool(hits) is found


def test_the_vectors_keep_their_notices() -> None:
    vectors = TESTS / "vectors"
    assert "Apache License" in (vectors / "wycheproof" / "LICENSE").read_text(encoding="utf-8")
    assert "Apache-2.0" in (vectors / "wycheproof" / "README.md").read_text(encoding="utf-8")
    readme = (vectors / "README.md").read_text(encoding="utf-8")
    for source in ("wycheproof/", "jose-cookbook/", "django-redirects.json"):
        assert source in readme


# --- CI runs tox's matrix -----------------------------------------------------------------------

WORKFLOWS = ROOT / ".github" / "workflows"


def expand_braces(pattern: str) -> list[str]:
    """tox's generative names: ``py{311,312}-django52`` is ``py311-django52``, ``py312-django52``."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [name for part in match[1].split(",") for name in expand_braces(head + part + tail)]


def tox_env_list() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    lines = parser["tox"]["env_list"].split()
    return [name for line in lines for name in expand_braces(line.strip())]


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_tox_env_list_is_the_python_by_django_matrix_readme_claims() -> None:
    envs = tox_env_list()
    assert [e for e in envs if e.startswith("py")] == [
        *("py311-django52", "py312-django52", "py313-django52"),
        *("py312-django60", "py312-django61", "py313-django60", "py313-django61"),
    ]
    assert expand_braces("py{312,313}-django{60,61}") == [
        "py312-django60",
        "py312-django61",
        "py313-django60",
        "py313-django61",
    ]


def test_the_ci_workflow_runs_exactly_toxs_env_list() -> None:
    job = workflow("ci.yml")["jobs"]["tox"]
    include = job["strategy"]["matrix"]["include"]

    assert sorted(entry["tox-env"] for entry in include) == sorted(tox_env_list())
    for entry in include:  # each env on the Python its name says
        if version := re.match(r"py3(\d+)-", entry["tox-env"]):
            assert entry["python"] == f"3.{version[1]}", entry
    assert any("tox -e ${{ matrix.tox-env }}" in step.get("run", "") for step in job["steps"])
    assert {"postgres", "redis"} <= set(job["services"])
    assert job["env"]["DATABASE_URL"].startswith("postgres://")
    assert job["env"]["CACHE_URL"].startswith("redis://")


def test_the_ci_workflow_runs_the_browser_test_and_builds_the_docs() -> None:
    jobs = workflow("ci.yml")["jobs"]
    runs = {
        name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()
    }
    assert "pytest tests/e2e" in runs["browser"] and "chromium" in runs["browser"]
    assert "tox -e docs" in runs["docs"]


def test_the_release_workflow_builds_then_publishes_with_trusted_publishing() -> None:
    jobs = workflow("release.yml")["jobs"]
    assert jobs["publish"]["needs"] == "build"
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert any("python -m build" in step.get("run", "") for step in jobs["build"]["steps"])
    assert not any("password" in str(step.get("with", {})) for step in jobs["publish"]["steps"])


def test_pre_commit_runs_ruff_and_its_formatter() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format"} <= hooks
