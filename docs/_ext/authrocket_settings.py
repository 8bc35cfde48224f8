"""Sphinx extension: the settings reference, generated from ``django_authrocket.conf``.

``AppSettings`` declares every setting once (name, default, environment fallbacks, meaning), so
the reference page renders those objects instead of repeating them by hand. In a MyST page::

    ```{authrocket-settings}
    ```

Each setting becomes a ``std:setting`` object, so pages link to it with
``{setting}`AUTHROCKET_JWT_KEY``` and a misspelt name fails the ``-W`` build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_INLINE_LITERAL = re.compile(r"``(.+?)``")


@dataclass(frozen=True)
class SettingDoc:
    """What the reference shows for one setting."""

    name: str
    default: str
    env: tuple[str, ...]
    doc: str


def node_id(name: str) -> str:
    """The HTML anchor of a setting: ``setting-authrocket-jwt-key``."""
    return nodes.make_id(f"setting-{name}")


def collect(settings: Iterable[Any] | None = None) -> list[SettingDoc]:
    """The settings to document, in declaration order (all of ``AppSettings`` by default)."""
    if settings is None:
        from django_authrocket.conf import AppSettings

        settings = AppSettings.all()
    return [SettingDoc(s.name, repr(s.default), tuple(s.env), s.doc) for s in settings]


def _inline(text: str) -> list[nodes.Node]:
    """Plain text with ``double backtick`` spans (the docstrings' markup) as literals."""
    parts: list[nodes.Node] = []
    for index, piece in enumerate(_INLINE_LITERAL.split(text)):
        if not piece:
            continue
        parts.append(nodes.literal(piece, piece) if index % 2 else nodes.Text(piece))
    return parts


def _field(label: str, body: list[nodes.Node]) -> nodes.field:
    return nodes.field(
        "",
        nodes.field_name(label, label),
        nodes.field_body("", nodes.paragraph("", "", *body)),
    )


def render(settings: Iterable[Any] | None = None) -> nodes.definition_list:
    """The reference as docutils nodes: one definition list entry per setting.

    Pure docutils, no Sphinx environment needed, so tests can call it and read ``astext()``.
    """
    items = nodes.definition_list(classes=["authrocket-settings"])
    for setting in collect(settings):
        term = nodes.term("", "", nodes.literal(setting.name, setting.name))
        term["ids"].append(node_id(setting.name))
        if setting.env:
            env: list[nodes.Node] = []
            for position, var in enumerate(setting.env):
                if position:
                    env.append(nodes.Text(", then "))
                env.append(nodes.literal(var, var))
        else:
            env = [nodes.Text("none (Django setting only)")]
        fields = nodes.field_list(
            "",
            _field("Default", [nodes.literal(setting.default, setting.default)]),
            _field("Environment", env),
        )
        definition = nodes.definition("", nodes.paragraph("", "", *_inline(setting.doc)), fields)
        items += nodes.definition_list_item("", term, definition)
    return items


class AuthRocketSettingsDirective(SphinxDirective):
    """``{authrocket-settings}``: render every ``AppSettings`` setting."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        reference = render()
        std = self.env.get_domain("std")
        for item in reference.findall(nodes.term):
            name = item.astext()
            std.note_object("setting", name, node_id(name), location=item)  # type: ignore[attr-defined]
        self.env.note_dependency(_conf_module_path())
        return [reference]


def _conf_module_path() -> str:
    from django_authrocket import conf

    return str(conf.__file__)


def setup(app: Sphinx) -> dict[str, Any]:
    # The object type gives the {setting} role; its index entry keeps names in genindex.
    app.add_object_type("setting", "setting", indextemplate="pair: %s; setting")
    app.add_directive("authrocket-settings", AuthRocketSettingsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
