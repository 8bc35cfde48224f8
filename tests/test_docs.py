"""The documentation stays honest: generated settings reference, check ids, a clean build."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from django_authrocket.conf import AppSettings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
CHECKS_SOURCE = (ROOT / "django_authrocket" / "checks.py").read_text()

SETTING_NAMES = {setting.name for setting in AppSettings.all()}
ENV_NAMES = {var for setting in AppSettings.all() for var in setting.env}


def load_extension() -> ModuleType:
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location(
        "authrocket_settings", DOCS / "_ext" / "authrocket_settings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def checks_py_ids() -> set[str]:
    """Ids named in checks.py: its ``id="authrocket.X"`` arguments and its docstring table."""
    in_code = set(re.findall(r"authrocket\.([EW]\d{3})", CHECKS_SOURCE))
    in_table = set(re.findall(r"^([EW]\d{3})\s", CHECKS_SOURCE, re.MULTILINE))
    return in_code | in_table


# --- settings reference ---------------------------------------------------------------------


def test_the_settings_reference_renders_every_setting_with_default_env_and_meaning() -> None:
    extension = load_extension()

    text = extension.render().astext()

    for setting in AppSettings.all():
        assert setting.name in text
        assert repr(setting.default) in text
        for var in setting.env:
            assert var in text
        assert setting.doc.replace("``", "")[:60] in text


def test_the_settings_reference_names_exactly_the_declared_settings() -> None:
    extension = load_extension()

    terms = [term.astext() for term in extension.render().findall(extension.nodes.term)]

    assert terms == [setting.name for setting in AppSettings.all()]


def test_the_settings_page_uses_the_generated_reference() -> None:
    assert "```{authrocket-settings}" in (DOCS / "settings.md").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_pages_name_no_setting_or_variable_that_does_not_exist(page: Path) -> None:
    mentioned = set(
        re.findall(r"\b(?:AUTHROCKET|LOGINROCKET)_[A-Z0-9_]*[A-Z0-9]", page.read_text())
    )

    stale = mentioned - SETTING_NAMES - ENV_NAMES

    assert not stale, f"{page.name} names settings that conf.py does not declare: {sorted(stale)}"


# --- system checks --------------------------------------------------------------------------


def test_troubleshooting_documents_exactly_the_check_ids_of_checks_py() -> None:
    page = (DOCS / "troubleshooting.md").read_text()
    documented = set(re.findall(r"^#+ authrocket\.([EW]\d{3})\s*$", page, re.MULTILINE))

    assert documented == checks_py_ids()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_pages_mention_only_check_ids_that_exist(page: Path) -> None:
    mentioned = set(re.findall(r"authrocket\.([A-Z]\d{3})", page.read_text()))

    assert mentioned <= checks_py_ids()


# --- tests the pages cite ------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_cited_test_exists(page: Path) -> None:
    cited = re.findall(r"`((?:[\w-]+/)*test_\w+\.py)::(test_\w+)`", page.read_text())
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (ROOT / "tests" / path).exists()
        or not re.search(rf"^(?:async )?def {name}\(", (ROOT / "tests" / path).read_text(), re.M)
    ]

    assert not missing, f"{page.name} cites tests that do not exist: {missing}"


# --- Markdown and build ---------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_fence_is_closed(page: Path) -> None:
    lines = page.read_text().splitlines()

    assert sum(line.startswith("```") for line in lines) % 2 == 0
    assert sum(line.startswith(":::") for line in lines) % 2 == 0


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """The ```python fences of a page: (line number of the fence, code)."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if current is None and line.strip() == "```python":
            current, start = [], number
        elif current is not None and line.startswith("```"):
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_python_snippets_are_valid_python(page: Path) -> None:
    for line, code in python_blocks(page):
        try:
            compile(code, f"{page.name}:{line}", "exec")
        except SyntaxError as exc:
            pytest.fail(f"{page.name}, code block at line {line}: {exc}")


def test_every_url_of_the_app_is_documented() -> None:
    from django_authrocket.urls import app_name, urlpatterns

    page = (DOCS / "login-flow.md").read_text()

    for pattern in urlpatterns:
        assert f"`{app_name}:{pattern.name}`" in page, pattern.name


@pytest.mark.slow
def test_the_docs_build_without_warnings(tmp_path: Path) -> None:
    for module in ("sphinx", "furo", "myst_parser"):
        pytest.importorskip(module)

    result = subprocess.run(
        [
            sys.executable,
            *("-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"),
            *("-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "html" / "settings.html").exists()
