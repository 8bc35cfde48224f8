"""The ``authrocket`` context processor and ``{% load authrocket %}``, rendered for real."""

from __future__ import annotations

import copy
import re

import pytest
from django.template import Context, Template, engines
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject

from django_authrocket.context_processors import authrocket, current_session
from django_authrocket.identity import AuthRocketSession, AuthRocketUserInfo
from django_authrocket.testing import log_in_through_site
from tests.helpers import mirror_memberships_from_api

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.extra_urls")]

CONTEXT_PROCESSOR = "django_authrocket.context_processors.authrocket"


@pytest.fixture(autouse=True)
def authrocket_in_templates(settings):
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["context_processors"].append(CONTEXT_PROCESSOR)
    settings.TEMPLATES = templates


@pytest.fixture
def emulator(authrocket_emulator):
    return authrocket_emulator


@pytest.fixture
def ada(emulator):
    """Admin of Analytical Engines (selected) with billing:*, and looms:* at Looms."""
    user = emulator.create_user("ada@example.com", username="ada")
    engines_org = emulator.create_org("Analytical Engines")
    looms = emulator.create_org("Looms")
    emulator.create_membership(
        user["id"], engines_org["id"], permissions=["ar:admin", "billing:*"], selected=True
    )
    emulator.create_membership(user["id"], looms["id"], permissions=["looms:*"])
    return user


def lines_of(response) -> dict[str, str]:
    text = response.content.decode()
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[\w-]+=", line))


def render(source: str, context: dict | None = None, request=None) -> str:
    return engines["django"].from_string(source).render(context or {}, request)


# --- links --------------------------------------------------------------------------------------


def test_links_carry_the_current_page_as_next(client) -> None:
    page = lines_of(client.get("/tags/"))
    assert page["login"] == "/login/?next=%2Ftags%2F"
    assert page["signup"] == "/signup/?next=%2Ftags%2F"
    assert page["profile"] == "/profile/?next=%2Ftags%2F"
    assert page["accounts"] == "/accounts/?next=%2Ftags%2F"
    assert page["org_accounts"] == "/accounts/org_42/?next=%2Ftags%2F"


def test_next_includes_the_query_string_of_the_current_page(client) -> None:
    page = lines_of(client.get("/tags/", {"page": "2"}))
    assert page["login"] == "/login/?next=%2Ftags%2F%3Fpage%3D2"


def test_an_explicit_next_replaces_the_current_page(client) -> None:
    page = lines_of(client.get("/tags/"))
    assert page["login_elsewhere"] == "/login/?next=%2Fwelcome%2F%3Fa%3D1%26b%3D2"


def test_a_link_can_be_stored_with_as(client) -> None:
    assert lines_of(client.get("/tags/"))["stored"] == "/login/?next=%2Ftags%2F"


def test_without_a_request_the_links_have_no_next() -> None:
    template = Template(
        "{% load authrocket %}{% authrocket_login_url %} {% authrocket_accounts_url 'org_1' %}"
    )
    assert template.render(Context()) == "/login/ /accounts/org_1/"


def test_an_org_id_that_is_no_authrocket_id_links_to_the_switcher() -> None:
    """The org page's URL takes AuthRocket ids only; another value (a site's own label, a
    value with "?" in it) renders the account switcher's link, never a template error."""
    template = Template(
        "{% load authrocket %}{% authrocket_accounts_url 'org?redirect_uri=x' %} "
        "{% authrocket_accounts_url 'org_1' %}"
    )
    assert template.render(Context()) == "/accounts/ /accounts/org_1/"


def test_the_links_lead_to_loginrocket_and_back_to_the_page(client, emulator) -> None:
    login_link = lines_of(client.get("/tags/"))["login"]
    response = client.get(login_link)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{emulator.loginrocket_url}/login?")
    assert "next%3D%252Ftags%252F" in response["Location"]


# --- the authrocket variable and the permission filter --------------------------------------------


def test_an_anonymous_page_has_no_authrocket_session(client) -> None:
    page = lines_of(client.get("/tags/"))
    assert page["person"] == "nobody"
    assert page["org"] == ""
    assert (page["admin"], page["billing"], page["owner"]) == ("False", "False", "False")


def test_a_logged_in_page_shows_the_person_their_org_and_permissions(emulator, ada) -> None:
    client = Client()
    log_in_through_site(client, emulator.mint_token(ada["id"]))
    page = lines_of(client.get("/tags/"))
    assert page["person"] == "ada@example.com"
    assert page["org"] == "Analytical Engines"
    assert page["admin"] == "True"
    assert page["billing"] == "True"  # billing:* grants billing:refunds
    assert page["owner"] == "False"


def test_the_permission_filter_takes_one_membership(emulator, ada, token_orgs) -> None:
    client = Client()
    log_in_through_site(client, emulator.mint_token(ada["id"]))
    mirror_memberships_from_api(ada["id"])  # the sync: Looms, whatever the token lists
    page = lines_of(client.get("/tags/"))
    assert page["looms_in_looms"] == "True"
    assert page["looms_in_analytical-engines"] == "False"
    # The selected org first (the token's; without org data, the mirror's), then the others.
    assert page["orgs"] == "Analytical Engines;Looms;"
    assert page["admin"] == "True"


def test_the_memberships_filter_lists_what_the_mirror_knows_besides_the_token(
    emulator, ada
) -> None:
    client = Client()
    log_in_through_site(client, emulator.mint_token(ada["id"]))  # the selected org only
    assert lines_of(client.get("/tags/"))["orgs"] == "Analytical Engines;"
    assert render("{% load authrocket %}{{ value|authrocket_memberships }}", {"value": 1}) == "[]"


def test_the_permission_filter_says_no_for_anything_else() -> None:
    source = '{% load authrocket %}{{ value|has_authrocket_perm:"ar:admin" }}'
    assert render(source, {"value": None}) == "False"
    assert render(source, {"value": "ar:admin"}) == "False"


def test_the_context_processor_reads_nothing_until_the_template_asks() -> None:
    class UntouchableSession(dict):
        def get(self, *args, **kwargs):
            raise AssertionError("the session was read")

    request = RequestFactory().get("/")
    request.session = UntouchableSession()
    context = authrocket(request)
    assert render("{% load authrocket %}{{ 1 }}", context) == "1"
    with pytest.raises(AssertionError, match="the session was read"):
        bool(context["authrocket"])


def test_the_session_set_by_the_middleware_is_preferred() -> None:
    session = AuthRocketSession(id="kss_1", user=AuthRocketUserInfo(id="usr_1"))
    request = RequestFactory().get("/")
    request.authrocket = session
    assert current_session(request) is session
    request.authrocket = SimpleLazyObject(lambda: session)
    assert current_session(request) == session
    request.authrocket = SimpleLazyObject(lambda: None)
    assert current_session(request) is None
    request.authrocket = None
    assert current_session(request) is None


# --- the logout form ----------------------------------------------------------------------------


def test_the_logout_form_posts_to_logout_with_the_csrf_token(client) -> None:
    html = client.get("/tags/").content.decode()
    assert '<form method="post" action="/logout/"' in html
    assert re.search(r'name="csrfmiddlewaretoken" value="\w+"', html)
    assert '<button type="submit">Log out</button>' in html
    assert 'name="next"' not in html


def test_the_logout_form_logs_the_person_out(emulator, ada) -> None:
    client = Client(enforce_csrf_checks=True)
    log_in_through_site(client, emulator.mint_token(ada["id"]))
    html = client.get("/tags/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="(\w+)"', html)[1]
    response = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{emulator.loginrocket_url}/logout?")
    assert lines_of(client.get("/tags/"))["person"] == "nobody"


def test_the_logout_form_takes_a_button_text_and_next_and_escapes_them() -> None:
    request = RequestFactory().get("/")
    html = render(
        "{% load authrocket %}{% authrocket_logout_form label next %}",
        {"label": "<b>Bye</b>", "next": '/bye/?a="1"'},
        request,
    )
    assert '<button type="submit">&lt;b&gt;Bye&lt;/b&gt;</button>' in html
    assert '<input type="hidden" name="next" value="/bye/?a=&quot;1&quot;">' in html
    assert 'name="csrfmiddlewaretoken"' in html
