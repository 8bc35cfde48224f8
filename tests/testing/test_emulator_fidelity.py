"""What the official libraries use and the emulator models after AuthRocket's docs: creating
sessions, updating and deleting users, list order and filters, session ``request``, the default
``email_verification`` and localised errors (each test names its source)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator


def headers(emu: AuthRocketEmulator, **extra: str) -> dict[str, str]:
    return {"Authrocket-Api-Key": emu.api_key, "Accept": "application/json", **extra}


def api(
    http: requests.Session, emu: AuthRocketEmulator, method: str, path: str, **kwargs: Any
) -> requests.Response:
    extra = kwargs.pop("extra_headers", {})
    return http.request(method, emu.api_url() + path, headers=headers(emu, **extra), **kwargs)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["collection"]]


# -- POST /sessions (authrocket.com/docs/api/sessions; authrocket-node lib/resource.js) -----------


def test_create_session_answers_201_with_a_token_for_the_session(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user("ada@example.com", first_name="Ada")

    response = api(
        http,
        emu,
        "POST",
        "/sessions",
        json={"session": {"user_id": user["id"]}, "request": {"ip": "10.0.0.1", "client": "x"}},
    )

    assert response.status_code == 201, response.text
    session = response.json()
    assert session["object"] == "session"
    assert session["user_id"] == user["id"]
    assert session["request"] == {"ip": "10.0.0.1", "client": "x"}
    claims = jwt.decode(session["token"], options={"verify_signature": False})
    assert (claims["sub"], claims["sid"]) == (user["id"], session["id"])
    got = api(http, emu, "GET", f"/sessions/{session['id']}")
    assert got.status_code == 200
    assert got.json()["request"] == {"ip": "10.0.0.1", "client": "x"}


def test_create_session_refuses_an_unknown_or_inactive_user(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    isaac = emu.create_user("isaac@example.com", state="inactive")

    unknown = api(http, emu, "POST", "/sessions", json={"session": {"user_id": "usr_nobody"}})
    inactive = api(http, emu, "POST", "/sessions", json={"session": {"user_id": isaac["id"]}})
    blank = api(http, emu, "POST", "/sessions", json={"session": {}})

    assert unknown.status_code == 404
    assert (inactive.status_code, inactive.json()) == (422, {"errors": ["User is inactive"]})
    assert blank.status_code == 422
    assert emu.count_requests("/api/v2/sessions", "POST") == 3


# -- updating and deleting users (authrocket-ruby lib/authrocket/user.rb: crud :update, :delete) --


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_user_changes_the_given_fields_and_emits_user_updated(
    emu: AuthRocketEmulator, http: requests.Session, method: str
) -> None:
    user = emu.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")

    response = api(
        http,
        emu,
        method,
        f"/users/{user['id']}",
        json={"user": {"first_name": "Augusta", "reference": "crm-1"}, "request": {}},
    )

    assert response.status_code == 200, response.text
    assert (response.json()["first_name"], response.json()["last_name"]) == ("Augusta", "Lovelace")
    assert emu.get_user(user["id"])["reference"] == "crm-1"
    assert emu.events[-1]["event_type"] == "user.updated"
    assert emu.events[-1]["user_id"] == user["id"]


def test_update_user_refuses_a_taken_email(emu: AuthRocketEmulator, http: requests.Session) -> None:
    emu.create_user("grace@example.com")
    ada = emu.create_user("ada@example.com")

    response = api(
        http, emu, "PUT", f"/users/{ada['id']}", json={"user": {"email": "grace@example.com"}}
    )

    assert response.status_code == 422
    assert emu.get_user(ada["id"])["email"] == "ada@example.com"


def test_delete_user_ends_their_sessions_and_memberships_and_emits_user_deleted(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user("ada@example.com")
    org = emu.create_org("Engines")
    emu.create_membership(user["id"], org["id"])
    session, _ = emu.login(user["id"])

    response = api(http, emu, "DELETE", f"/users/{user['id']}")

    assert response.status_code == 204
    assert api(http, emu, "GET", f"/users/{user['id']}").status_code == 404
    assert api(http, emu, "GET", f"/sessions/{session['id']}").status_code == 404
    types = [event["event_type"] for event in emu.events]
    assert types[-3:] == ["session.deleted", "membership.deleted", "user.deleted"]


# -- list order and filters (authrocket.com/docs/api/orgs "List orgs", .../users, .../sessions) --


def test_orgs_are_listed_by_name_by_default_and_by_id_or_descending_on_request(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    zeta, alpha, mid = (emu.create_org(name)["id"] for name in ("Zeta", "alpha", "Mid"))

    assert ids(api(http, emu, "GET", "/orgs")) == [alpha, mid, zeta]
    assert ids(api(http, emu, "GET", "/orgs", params={"direction": "desc"})) == [zeta, mid, alpha]
    assert ids(api(http, emu, "GET", "/orgs", params={"sort": "id"})) == [zeta, alpha, mid]
    first = api(http, emu, "GET", "/orgs", params={"max_results": 2})
    assert (ids(first), first.json()["more_results"]) == ([alpha, mid], True)
    assert ids(api(http, emu, "GET", "/orgs", params={"after": mid})) == [zeta]
    bad = api(http, emu, "GET", "/orgs", params={"sort": "email"})
    assert bad.status_code == 422


def test_users_sort_direction_and_reference(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    b = emu.create_user("b@example.com", reference="crm-2")["id"]
    c = emu.create_user("c@example.com", reference="crm-1")["id"]
    a = emu.create_user("a@example.com", reference="crm-1")["id"]

    assert ids(api(http, emu, "GET", "/users")) == [b, c, a]
    assert ids(api(http, emu, "GET", "/users", params={"direction": "desc"})) == [a, c, b]
    assert ids(api(http, emu, "GET", "/users", params={"sort": "email"})) == [a, b, c]
    assert ids(api(http, emu, "GET", "/users", params={"reference": "crm-1"})) == [c, a]
    assert ids(api(http, emu, "GET", "/orgs", params={"reference": "crm-1"})) == []
    assert api(http, emu, "GET", "/users", params={"direction": "up"}).status_code == 422


def test_org_reference_filter_is_an_exact_match(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    engines = emu.create_org("Engines", reference="org-engines")["id"]
    emu.create_org("Engines 2", reference="org-engines-2")

    assert ids(api(http, emu, "GET", "/orgs", params={"reference": "org-engines"})) == [engines]


def test_sessions_of_a_user_list_newest_first_with_direction_desc(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()
    first, _ = emu.login(user["id"])
    second, _ = emu.login(user["id"])

    listed = api(http, emu, "GET", "/sessions", params={"user_id": user["id"], "direction": "desc"})

    assert ids(listed) == [second["id"], first["id"]]


# -- email_verification of new users (authrocket.com/docs/api/users, "Fields": default none) ------


def test_a_user_created_through_the_api_has_email_verification_none(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    response = api(http, emu, "POST", "/users", json={"user": {"email": "new@example.com"}})

    assert response.status_code == 201
    assert response.json()["email_verification"] == "none"


# -- Accept-Language (authrocket-node lib/authrocket.js ``locale``) -------------------------------


def test_core_api_errors_follow_accept_language(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    spanish = api(
        http, emu, "GET", "/users/usr_nobody", extra_headers={"Accept-Language": "es-MX,en;q=0.5"}
    )
    english = api(
        http, emu, "GET", "/users/usr_nobody", extra_headers={"Accept-Language": "en,es;q=0.5"}
    )
    other = api(http, emu, "GET", "/users/usr_nobody", extra_headers={"Accept-Language": "x;q=z"})

    assert spanish.json() == {"errors": ["Usuario no encontrado"]}
    assert english.json() == {"errors": ["User not found"]}
    assert other.json() == {"errors": ["User not found"]}
