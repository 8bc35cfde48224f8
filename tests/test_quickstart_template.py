"""The quickstart's template renders as the page says, for a person with an org and without.

The template is read from docs/quickstart.md itself (its ``html+django`` block).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.template import engines
from django.test import RequestFactory

from django_authrocket.tokens import verify_token

pytestmark = pytest.mark.django_db

QUICKSTART = Path(__file__).resolve().parents[1] / "docs" / "quickstart.md"


def quickstart_template() -> str:
    [block] = re.findall(
        r"^```html\+django\n(.*?)^```$", QUICKSTART.read_text(encoding="utf-8"), re.M | re.S
    )
    return block


def render(emulator, person, **mint) -> str:  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user(
        person["email"], first_name=person["first_name"], last_name=person["last_name"]
    )
    session = verify_token(emulator.mint_token(person["id"], **mint))
    request = RequestFactory().get("/")
    request.user = user
    text = engines["django"].from_string(quickstart_template())
    return " ".join(text.render({"user": user, "authrocket": session}, request).split())


def test_a_person_without_an_org_is_shown_without_empty_parentheses(emulator) -> None:
    alan = emulator.create_user("alan@example.com", first_name="Alan", last_name="Turing")

    shown = render(emulator, alan)

    assert "Alan Turing" in shown
    assert "()" not in shown


def test_a_person_with_an_org_is_shown_with_it(emulator, ada) -> None:
    shown = render(emulator, ada)

    assert "Ada Lovelace (Analytical Engines)" in shown
