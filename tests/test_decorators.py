"""permission_required and org_required: real logins through the emulator, real views.

Every test with an org runs under the three token shapes (``token_orgs``, through
``engines_org``). The token answers for the org it selected, the mirror for the others:
:func:`logged_in` fills the mirror from the Core API after the login, as the sync or webhooks do
on a site.
"""

from __future__ import annotations

import inspect

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from django_authrocket.decorators import org_required, permission_required
from tests import extra_urls
from tests.helpers import mirror_memberships_from_api

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.extra_urls")]


@pytest.fixture
def emulator(authrocket_emulator):
    return authrocket_emulator


@pytest.fixture
def engines_org(emulator, token_orgs):
    return emulator.create_org("Analytical Engines")


@pytest.fixture
def looms_org(emulator):
    return emulator.create_org("Looms")


@pytest.fixture
def ada(emulator, engines_org, looms_org):
    """Admin of Analytical Engines (selected), with billing:*; reports:read at Looms."""
    user = emulator.create_user("ada@example.com", username="ada")
    emulator.create_membership(
        user["id"], engines_org["id"], permissions=["ar:admin", "billing:*"], selected=True
    )
    emulator.create_membership(user["id"], looms_org["id"], permissions=["reports:read"])
    return user


def member(emulator, org, *permissions: str):
    """A new user whose selected membership of ``org`` grants ``permissions``."""
    user = emulator.create_user(f"{len(permissions)}-{'-'.join(permissions) or 'none'}@example.com")
    emulator.create_membership(user["id"], org["id"], permissions=permissions, selected=True)
    return user


def logged_in(emulator, user, *, synced: bool = True, **mint) -> Client:
    """A client logged in as ``user``; with ``synced``, the mirror then holds all their orgs."""
    client = Client()
    response = client.get("/login/", {"token": emulator.mint_token(user["id"], **mint)})
    assert response.status_code == 302, response.content
    if synced:
        mirror_memberships_from_api(user["id"])
    return client


def async_client_like(client: Client) -> AsyncClient:
    """An AsyncClient sharing ``client``'s session cookie."""
    async_client = AsyncClient()
    async_client.cookies = client.cookies
    return async_client


def async_get(client: AsyncClient, path: str):
    return async_to_sync(client.get)(path)


# --- who may pass -------------------------------------------------------------------------------


def test_an_anonymous_person_is_sent_to_login_with_next(client) -> None:
    response = client.get("/invoices/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/invoices/"


def test_next_keeps_the_query_string(client) -> None:
    response = client.get("/invoices/", {"year": "2024"})
    assert response["Location"] == "/login/?next=/invoices/%3Fyear%3D2024"


def test_login_url_overrides_the_login_url_setting(client) -> None:
    response = client.get("/admin-elsewhere/")
    assert response["Location"] == "/elsewhere/?next=/admin-elsewhere/"


def test_a_wildcard_permission_grants_the_permissions_under_it(emulator, ada) -> None:
    response = logged_in(emulator, ada).get("/invoices/")  # needs billing:read; ada has billing:*
    assert response.status_code == 200
    assert response.json() == {"user": "ada", "org": "Analytical Engines"}


def test_a_member_holding_the_exact_permissions_passes(emulator, engines_org) -> None:
    owner = member(emulator, engines_org, "ar:owner", "ar:admin")
    assert logged_in(emulator, owner).get("/ownership/").status_code == 200


def test_the_star_permission_grants_everything(emulator, engines_org) -> None:
    superuser = member(emulator, engines_org, "*")
    client = logged_in(emulator, superuser)
    assert client.get("/ownership/").status_code == 200
    assert client.get("/invoices/").status_code == 200


def test_a_member_lacking_a_permission_gets_403(emulator, engines_org) -> None:
    reader = member(emulator, engines_org, "reports:read")
    assert logged_in(emulator, reader).get("/invoices/").status_code == 403


def test_every_listed_permission_is_required(emulator, ada) -> None:
    # ada holds ar:admin but not ar:owner.
    assert logged_in(emulator, ada).get("/ownership/").status_code == 403


def test_without_raise_exception_a_lacking_member_is_sent_to_login(emulator, ada) -> None:
    response = logged_in(emulator, ada).get("/owners-or-login/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/owners-or-login/"


def test_a_login_that_did_not_go_through_authrocket_is_sent_to_login(client) -> None:
    user = get_user_model().objects.create_user("local", password="irrelevant")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/invoices/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/invoices/"


def test_after_logout_the_person_is_sent_to_login_again(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    client.post("/logout/")
    assert client.get("/invoices/")["Location"] == "/login/?next=/invoices/"


# --- which membership ---------------------------------------------------------------------------


def test_org_id_checks_the_membership_of_that_org(emulator, ada, looms_org) -> None:
    # reports:read is granted at Looms, which is not the selected org.
    response = logged_in(emulator, ada).get(f"/orgs/{looms_org['id']}/report/")
    assert response.status_code == 200


def test_org_id_ignores_the_permissions_of_the_selected_org(emulator, ada, engines_org) -> None:
    response = logged_in(emulator, ada).get(f"/orgs/{engines_org['id']}/report/")
    assert response.status_code == 403


def test_the_selected_membership_does_not_borrow_another_orgs_permissions(
    emulator, engines_org, looms_org
) -> None:
    user = member(emulator, engines_org, "ar:admin")
    emulator.create_membership(user["id"], looms_org["id"], permissions=["billing:read"])
    assert logged_in(emulator, user).get("/invoices/").status_code == 403


def test_org_required_lets_a_member_of_an_org_in(emulator, ada) -> None:
    response = logged_in(emulator, ada).get("/in-an-org/")
    assert response.status_code == 200
    assert response.json()["org"] == "Analytical Engines"


def test_org_required_refuses_a_person_without_an_org(emulator) -> None:
    loner = emulator.create_user("loner@example.com")
    assert logged_in(emulator, loner).get("/in-an-org/").status_code == 403


def test_org_required_sends_an_anonymous_person_to_login(client) -> None:
    assert client.get("/in-an-org/")["Location"] == "/login/?next=/in-an-org/"


def test_org_required_with_an_org_id_needs_a_membership_of_that_org(
    emulator, ada, looms_org
) -> None:
    client = logged_in(emulator, ada)
    assert client.get(f"/orgs/{looms_org['id']}/members/").status_code == 200
    assert client.get("/orgs/org_someone_else/members/").status_code == 403


# --- what the token leaves out ------------------------------------------------------------------
# Tokens built by hand, whatever the realm's shape (so these run once).


def two_org_person(emulator):
    """Ada as the ``ada`` fixture makes her, with her two orgs: ``(user, engines, looms)``."""
    engines = emulator.create_org("Analytical Engines")
    looms = emulator.create_org("Looms")
    user = emulator.create_user("ada@example.com", username="ada")
    emulator.create_membership(
        user["id"], engines["id"], permissions=["ar:admin", "billing:*"], selected=True
    )
    emulator.create_membership(user["id"], looms["id"], permissions=["reports:read"])
    return user, engines, looms


def test_a_token_naming_only_the_selected_org_leaves_the_others_to_the_mirror(emulator) -> None:
    # "LR always sends a JWT with exactly one membership/org" (authrocket-ruby
    # lib/authrocket/rails/controller_helper.rb).
    ada, engines, looms_org = two_org_person(emulator)
    entry = {"oid": engines["id"], "name": "Analytical Engines", "perm": ["ar:admin"]}
    client = logged_in(emulator, ada, claims={"orgs": [{**entry, "selected": True}]})

    assert client.get("/ownership/").status_code == 403  # the token's ar:admin only, no owner
    assert client.get(f"/orgs/{looms_org['id']}/report/").status_code == 200  # the mirror's
    assert client.get(f"/orgs/{looms_org['id']}/members/").status_code == 200
    assert client.get("/orgs/org_someone_else/members/").status_code == 403


def test_the_selected_org_is_the_tokens_even_when_the_mirror_says_more(emulator) -> None:
    # The mirror grants billing:* at Analytical Engines; this token's selected membership no
    # longer does, and the token is the fresher word on the selected org.
    ada, engines, _looms = two_org_person(emulator)
    entry = {"oid": engines["id"], "name": "Analytical Engines", "perm": ["ar:admin"]}
    client = logged_in(emulator, ada, claims={"orgs": [{**entry, "selected": True}]})
    assert client.get("/invoices/").status_code == 403


def test_without_org_data_in_the_token_the_mirror_decides(emulator) -> None:
    ada, _engines, looms_org = two_org_person(emulator)
    first = logged_in(emulator, ada, synced=False, drop_claims=["orgs"])
    assert first.get("/in-an-org/").status_code == 403  # a first login: nothing known yet

    client = logged_in(emulator, ada, drop_claims=["orgs"])  # the mirror knows her orgs

    assert client.get("/invoices/").json() == {"user": "ada", "org": "Analytical Engines"}
    assert client.get("/in-an-org/").status_code == 200
    assert client.get(f"/orgs/{looms_org['id']}/report/").status_code == 200
    assert client.get("/ownership/").status_code == 403


# --- async views and class-based views ------------------------------------------------------------


def test_an_async_view_stays_async_and_keeps_its_name() -> None:
    assert inspect.iscoroutinefunction(extra_urls.async_invoices)
    assert extra_urls.async_invoices.__name__ == "async_invoices"
    assert extra_urls.invoices.__name__ == "invoices"
    assert extra_urls.invoices.__doc__ == "Needs billing:read (the test user holds billing:*)."


def test_an_async_view_sends_an_anonymous_person_to_login() -> None:
    response = async_get(AsyncClient(), "/async/invoices/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/async/invoices/"


def test_an_async_view_serves_a_member_with_the_permission(emulator, ada) -> None:
    response = async_get(async_client_like(logged_in(emulator, ada)), "/async/invoices/")
    assert response.status_code == 200
    assert response.content == b"async invoices"


def test_an_async_view_refuses_a_member_lacking_the_permission(emulator, engines_org) -> None:
    reader = member(emulator, engines_org, "reports:read")
    response = async_get(async_client_like(logged_in(emulator, reader)), "/async/invoices/")
    assert response.status_code == 403


def test_org_required_on_an_async_view(emulator, ada) -> None:
    loner = emulator.create_user("loner@example.com")
    assert (
        async_get(async_client_like(logged_in(emulator, ada)), "/async/in-an-org/").status_code
        == 200
    )
    assert (
        async_get(async_client_like(logged_in(emulator, loner)), "/async/in-an-org/").status_code
        == 403
    )


def test_a_class_based_view_decorated_with_method_decorator(client, emulator, ada) -> None:
    assert client.get("/team/")["Location"] == "/login/?next=/team/"
    assert logged_in(emulator, ada).get("/team/").content == b"team settings"
    reader = member(emulator, emulator.create_org("Mills"), "reports:read")
    assert logged_in(emulator, reader).get("/team/").status_code == 403


def test_an_async_class_based_view_decorated_on_its_handler(emulator, ada) -> None:
    response = async_get(async_client_like(logged_in(emulator, ada)), "/async/team/")
    assert response.status_code == 200
    assert response.content == b"async team settings"


# --- misuse -------------------------------------------------------------------------------------


def test_permission_required_without_parentheses_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="one or more permission strings"):
        permission_required(extra_urls.invoices)  # type: ignore[arg-type]


def test_permission_required_needs_a_permission() -> None:
    with pytest.raises(TypeError, match="one or more permission strings"):
        permission_required()


def test_org_required_works_with_and_without_parentheses() -> None:
    def page(request):
        return None

    assert org_required(page).__wrapped__ is page
    assert org_required()(page).__wrapped__ is page
    assert org_required("org_1", raise_exception=False)(page).__wrapped__ is page
