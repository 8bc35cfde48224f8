"""The emulator's LoginRocket API (``/v2/``), over real HTTP, as a browser or a site calls it.

Each endpoint, each ``result``, the statuses 403/404/409/422/429, CORS, form and JSON bodies,
``Accept-Language``, the rate limit, fault injection on ``/v2/``, and the one session store
shared with the hosted pages, the Core API and the events.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator
from django_authrocket.testing.demo import (
    DEMO_PASSWORDS,
    DEMO_TOTP_EMAIL,
    DEMO_TOTP_SECRET,
    seed_demo_users,
)
from django_authrocket.testing.totp import totp

PASSWORD = "quick-fox-jumped-over-the-moon"  # loginrocket_test.js's own test password
NEW_PASSWORD = "how-now-brown-cow!"


@pytest.fixture
def http(http: requests.Session) -> requests.Session:
    http.headers["Accept"] = "application/json"  # as the LoginRocket API's clients send
    return http


class LR:
    """A tiny LoginRocket API client, as loginrocket.js calls it (JSON unless told)."""

    def __init__(self, emu: AuthRocketEmulator, http: requests.Session) -> None:
        self.emu = emu
        self.http = http

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.emu.loginrocket_api_url + path, **kwargs)

    def post(self, path: str, **fields: Any) -> requests.Response:
        return self.call("POST", path, json=fields)

    def get_session(self, session: str, **params: str) -> requests.Response:
        return self.call("GET", "session", params={"session": session, **params})


@pytest.fixture
def lr(emu: AuthRocketEmulator, http: requests.Session) -> LR:
    return LR(emu, http)


@pytest.fixture
def ada(emu: AuthRocketEmulator) -> dict[str, Any]:
    user = emu.create_user(
        "ada@example.com", first_name="Ada", last_name="Lovelace", username="ada", password=PASSWORD
    )
    engines = emu.create_org("Engines")
    difference = emu.create_org("Difference")
    emu.create_membership(user["id"], engines["id"], permissions=["ar:admin"])
    emu.create_membership(user["id"], difference["id"])
    return {**user, "orgs": [engines["id"], difference["id"]]}


def claims_of(emu: AuthRocketEmulator, token: str) -> dict[str, Any]:
    return jwt.decode(
        token, emu.public_key_pem, algorithms=["RS256"], issuer="https://authrocket.com"
    )


def event_types(emu: AuthRocketEmulator) -> list[str]:
    return [event["event_type"] for event in emu.events]


def assert_full_login(answer: requests.Response, account: str | None = None) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"] == "full_login", body
    assert body["session"].startswith("kss_")
    if account is None:
        assert body["account"].startswith("org_")
    else:
        assert body["account"] == account
    assert body["token"]
    return dict(body)


def assert_error(answer: requests.Response, status: int, pattern: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["result"] == "error"
    assert pattern in body["error"]
    assert any(pattern in text for text in body["errors"])
    return dict(body)


def core_get_session(emu: AuthRocketEmulator, http: requests.Session, session_id: str) -> int:
    answer = http.get(
        f"{emu.api_url()}/sessions/{session_id}", headers={"Authrocket-Api-Key": emu.api_key}
    )
    return answer.status_code


# -- login -----------------------------------------------------------------------------------------


def test_a_wrong_password_is_a_422_login_failed_with_a_request_id_and_a_failed_login_event(
    emu, lr, ada
) -> None:
    answer = lr.post("login", email="ada@example.com", password="wrong")

    assert_error(answer, 422, "Login failed")
    assert "token" not in answer.json()
    assert answer.headers["X-Request-ID"].startswith("rq_")
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "user.login.failed" in event_types(emu)
    assert "user.login.succeeded" not in event_types(emu)


def test_the_failed_login_speaks_spanish_to_a_spanish_browser(lr, ada) -> None:
    answer = lr.call(
        "POST",
        "login",
        json={"email": "ada@example.com", "password": "wrong"},
        headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"},
    )

    assert_error(answer, 422, "Error al iniciar sesión")


def test_an_unknown_person_and_an_inactive_one_get_the_same_answer_as_a_wrong_password(
    emu, lr, ada
) -> None:
    emu.create_user("isaac@example.com", state="inactive", password=PASSWORD)
    wrong = lr.post("login", email="ada@example.com", password="wrong").json()

    assert lr.post("login", email="nobody@example.com", password=PASSWORD).json() == wrong
    assert lr.post("login", email="isaac@example.com", password=PASSWORD).json() == wrong


def test_a_login_is_a_session_the_core_api_and_the_events_see(emu, http, lr, ada) -> None:
    answer = lr.post("login", email="ada@example.com", password=PASSWORD)

    body = assert_full_login(answer, ada["orgs"][0])
    claims = claims_of(emu, body["token"])
    assert claims["sub"] == ada["id"]
    assert claims["sid"] == body["session"]
    assert [org["oid"] for org in claims["orgs"] if org["selected"]] == [ada["orgs"][0]]
    assert core_get_session(emu, http, body["session"]) == 200
    assert "user.login.succeeded" in event_types(emu)


def test_login_takes_a_form_body_as_well_as_json(lr, http, emu, ada) -> None:
    answer = http.post(
        emu.loginrocket_api_url + "login",
        data={"email": "ADA@example.com", "password": PASSWORD},
    )

    assert answer.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert_full_login(answer)


def test_every_endpoint_takes_a_form_body_with_the_session_in_the_query(emu, http, ada) -> None:
    url = emu.loginrocket_api_url
    login = http.post(url + "login", data={"email": "ada@example.com", "password": PASSWORD})
    session = login.json()["session"]

    profile = http.put(url + "profile", params={"session": session}, data={"last_name": "B"})
    assert_full_login(profile)
    assert emu.get_user(ada["id"])["last_name"] == "B"
    change = http.post(
        url + "profile/password",
        params={"session": session},
        data={"current_password": PASSWORD, "password": NEW_PASSWORD},
    )
    assert change.json() == {"result": "okay"}
    forgot = http.post(url + "password/forgot", data={"email": "ada@example.com"})
    assert forgot.json() == {"result": "okay"}


def test_passwords_are_kept_only_as_salted_hashes(emu, ada) -> None:
    other = emu.create_user("same@example.com", password=PASSWORD)
    kept = emu._store.password_hashes  # the emulator's own store: no other way to see it

    assert PASSWORD not in repr(kept)
    assert kept[ada["id"]].startswith("scrypt$")
    assert kept[ada["id"]] != kept[other["id"]]  # salted: the same password, two hashes


def test_login_accepts_a_username_or_a_user_id_in_email(lr, ada) -> None:
    assert_full_login(lr.post("login", email="ADA", password=PASSWORD))
    assert_full_login(lr.post("login", email=ada["id"], password=PASSWORD))


def test_a_person_without_a_password_cannot_log_in_through_the_api(emu, lr) -> None:
    emu.create_user("nopass@example.com")

    assert_error(lr.post("login", email="nopass@example.com", password=""), 422, "Login failed")


# -- the second factor -----------------------------------------------------------------------------


def test_the_second_factor_answers_conditionally_then_a_right_code_logs_in(emu, http, lr, ada):
    emu.enable_totp(ada["id"], DEMO_TOTP_SECRET)

    first = lr.post("login", email="ada@example.com", password=PASSWORD)
    assert first.status_code == 200
    body = first.json()
    assert body["result"] == "conditional_login"
    assert body["conditions"] == ["login_verification_required"]
    assert body["verification"] == {"method": "totp"}
    assert "token" not in body
    pending = body["session"]
    assert pending.startswith("kss_")
    assert lr.get_session(pending).status_code == 403  # half a login is no session yet
    assert "user.login.initiated" in event_types(emu)

    near = {emu.totp_code(ada["id"], at=time.time() + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333") if code not in near)
    assert_error(lr.post("login/verify", session=pending, code=wrong), 422, "code is invalid")

    assert emu.totp_code(ada["id"], at=1_700_000_000) == totp(DEMO_TOTP_SECRET, 1_700_000_000)
    code = emu.totp_code(ada["id"])
    done = assert_full_login(lr.post("login/verify", session=pending, code=code))
    assert core_get_session(emu, http, done["session"]) == 200
    assert lr.post("login/verify", session=pending, code=code).status_code == 403  # used up


def test_a_totp_code_is_accepted_once(emu, lr, ada) -> None:
    emu.enable_totp(ada["id"])
    code = emu.totp_code(ada["id"])
    first = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]
    assert_full_login(lr.post("login/verify", session=first, code=code))

    second = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]
    assert_error(lr.post("login/verify", session=second, code=code), 422, "code is invalid")


def test_login_verify_without_a_pending_login_is_403(lr, ada) -> None:
    assert lr.post("login/verify", session="kss_nothing", code="123456").status_code == 403
    assert lr.post("login/verify", code="123456").status_code == 403


def test_totp_matches_the_rfc_6238_sha1_vectors() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    # RFC 6238 appendix B, the last six of the eight digits.
    assert totp(secret, 59) == "287082"
    assert totp(secret, 1111111109) == "081804"
    assert totp(secret, 2000000000) == "279037"


# -- sessions: read, switch account, end --------------------------------------------------------


def test_get_session_switches_account_and_defaults_to_the_first_org_in_single_user(
    emu, lr, ada
) -> None:
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]
    engines, difference = ada["orgs"]

    switched = assert_full_login(lr.get_session(session, account=difference), difference)
    selected = [org["oid"] for org in claims_of(emu, switched["token"])["orgs"] if org["selected"]]
    assert selected == [difference]
    assert_full_login(lr.get_session(session), engines)


def test_get_session_in_multi_user_asks_for_an_account(emu, lr, ada) -> None:
    emu.configure(lr_org_mode="multi_user")
    answer = lr.post("login", email="ada@example.com", password=PASSWORD)

    body = answer.json()
    assert body["result"] == "conditional_login"
    assert body["account"] is None
    assert body["conditions"] == ["no_account_selected"]
    assert "token" not in body
    assert_full_login(lr.get_session(body["session"], account=ada["orgs"][1]), ada["orgs"][1])


def test_an_account_the_person_is_not_in_is_404(emu, lr, ada) -> None:
    stranger = emu.create_org("Stranger")
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]

    assert_error(lr.get_session(session, account=stranger["id"]), 404, "Account not found")


def test_get_session_of_an_unknown_or_missing_session_is_403(lr) -> None:
    assert_error(lr.get_session("kss_unknown"), 403, "Session expired")
    assert lr.call("GET", "session").status_code == 403


def test_delete_session_ends_it_for_the_api_the_core_api_and_the_hosted_pages(
    emu, http, lr, ada
) -> None:
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]
    profile = http.get(emu.url + "/profile", params={"session": session})
    assert "Ada Lovelace" in profile.text

    answer = lr.call("DELETE", "session", params={"session": session})

    assert answer.status_code == 200
    assert answer.json() == {"result": "okay"}
    deleted = [e for e in emu.events if e["event_type"] == "session.deleted"]
    assert [e["session_id"] for e in deleted] == [session]
    assert_error(lr.get_session(session), 403, "Session expired")
    assert core_get_session(emu, http, session) == 404
    assert "Not logged in" in http.get(emu.url + "/profile", params={"session": session}).text
    assert lr.call("DELETE", "session", params={"session": session}).status_code == 403


def test_a_hosted_page_login_is_a_session_the_api_reads(emu, http, lr, ada) -> None:
    page = http.post(emu.url + "/login", data={"user_id": ada["id"]}, allow_redirects=False)
    session = page.cookies["loginrocket_session"]

    assert_full_login(lr.get_session(session), ada["orgs"][0])


def test_single_sign_out_of_the_hosted_pages_ends_an_api_session(emu, http, lr, ada) -> None:
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]

    http.get(emu.url + "/logout", params={"session": session})

    assert lr.get_session(session).status_code == 403


# -- passwords -------------------------------------------------------------------------------------


def test_forgot_password_mails_a_reset_token_and_reset_logs_in_with_the_new_password(
    emu, lr, ada
) -> None:
    answer = lr.post("password/forgot", email="ada@example.com")
    assert answer.json() == {"result": "okay"}
    token = emu.emailed_token("password_reset", to="ada@example.com")
    assert "user.password.resetting" in event_types(emu)

    mismatch = lr.post(
        "password/reset", token=token, password=NEW_PASSWORD, password_confirmation="other-one!"
    )
    assert_error(mismatch, 422, "Password confirmation")
    reset = lr.post(
        "password/reset", token=token, password=NEW_PASSWORD, password_confirmation=NEW_PASSWORD
    )

    assert_full_login(reset, ada["orgs"][0])
    assert "user.password.updated" in event_types(emu)
    assert_error(lr.post("login", email="ada@example.com", password=PASSWORD), 422, "Login failed")
    assert_full_login(lr.post("login", email="ada@example.com", password=NEW_PASSWORD))
    again = lr.post("password/reset", token=token, password=NEW_PASSWORD)
    assert_error(again, 422, "Token is invalid")  # single use


def test_forgot_password_for_an_unknown_address_says_okay_and_mails_nothing(emu, lr) -> None:
    assert lr.post("password/forgot", email="nobody@example.com").json() == {"result": "okay"}
    assert emu.outbox == []
    assert_error(lr.post("password/forgot", email=""), 422, "Email can't be blank")


def test_reset_password_refuses_a_short_password_and_a_made_up_token(emu, lr, ada) -> None:
    token = emu.generate_password_token(ada["id"])

    assert_error(lr.post("password/reset", token=token, password="short"), 422, "too short")
    assert_error(
        lr.post("password/reset", token="pat_made_up", password=NEW_PASSWORD), 422, "Token"
    )
    assert_full_login(lr.post("password/reset", token=token, password=NEW_PASSWORD))


def test_update_password_needs_a_session_and_the_current_password(emu, lr, ada) -> None:
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]

    assert_error(lr.post("profile/password"), 403, "access denied")
    wrong = lr.post(
        "profile/password",
        session=session,
        current_password="wrong",
        password=NEW_PASSWORD,
        password_confirmation=NEW_PASSWORD,
    )
    assert_error(wrong, 422, "Current password does not match")
    right = lr.post(
        "profile/password",
        session=session,
        current_password=PASSWORD,
        password=NEW_PASSWORD,
        password_confirmation=NEW_PASSWORD,
    )
    assert right.json() == {"result": "okay"}
    assert_full_login(lr.post("login", email="ada@example.com", password=NEW_PASSWORD))


# -- profile ---------------------------------------------------------------------------------------


def test_update_profile_changes_the_person_and_answers_a_fresh_token(emu, lr, ada) -> None:
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]

    answer = lr.call(
        "PUT", "profile", json={"session": session, "email": "ada2@example.com", "last_name": "K"}
    )

    body = assert_full_login(answer)
    claims = claims_of(emu, body["token"])
    assert claims["email"] == "ada2@example.com"
    assert claims["family_name"] == "K"
    assert "user.profile.updated" in event_types(emu)
    assert emu.get_user(ada["id"])["email_verification"] == "requested"
    assert emu.emailed_token("verify_email", to="ada2@example.com")


def test_update_profile_to_a_taken_email_is_409_and_a_bad_one_422(emu, lr, ada) -> None:
    emu.create_user("grace@example.com")
    session = lr.post("login", email="ada@example.com", password=PASSWORD).json()["session"]

    taken = lr.call("PUT", "profile", json={"session": session, "email": "GRACE@example.com"})
    assert_error(taken, 409, "Email has already been taken")
    bad = lr.call("PUT", "profile", json={"session": session, "email": "not an email"})
    assert_error(bad, 422, "Email is invalid")
    assert lr.call("PUT", "profile", json={"first_name": "X"}).status_code == 403


# -- signup ----------------------------------------------------------------------------------------


def test_an_open_signup_logs_the_new_person_in_and_mails_a_verification(emu, lr) -> None:
    answer = lr.post("signup", email="alexander@example.com", password=NEW_PASSWORD)

    body = assert_full_login(answer)  # single_user: an org is made for the new person
    assert emu.get_user("alexander@example.com")["email_verification"] == "requested"
    token = emu.emailed_token("verify_email", to="alexander@example.com")
    assert lr.post("email/verify", token=token).json() == {"result": "okay"}
    assert emu.get_user("alexander@example.com")["email_verification"] == "verified"
    assert "user.email.verified" in event_types(emu)
    assert claims_of(emu, body["token"])["email"] == "alexander@example.com"


def test_signup_with_a_taken_email_is_409_and_with_bad_fields_422(emu, lr, ada) -> None:
    assert_error(lr.post("signup", email="ADA@example.com", password=NEW_PASSWORD), 409, "taken")
    assert_error(lr.post("signup", email="x@example.com", password="short"), 422, "too short")
    assert_error(lr.post("signup", email="", password=NEW_PASSWORD), 422, "Email can't be blank")


def test_a_closed_realm_refuses_signups_and_invitation_requests(emu, lr) -> None:
    emu.configure(lr_signup="closed")

    assert_error(lr.post("signup", email="a@example.com", password=NEW_PASSWORD), 422, "not open")
    assert_error(lr.post("signup/request", email="a@example.com"), 422, "not accepted")


def test_an_invitation_realm_takes_requests_and_signs_up_with_the_mailed_invitation(
    emu, lr
) -> None:
    emu.configure(lr_signup="invitation")
    org = emu.create_org("Invited Org")

    assert lr.post("signup/request", email="alexander@example.com").json() == {"result": "okay"}
    assert "invitation.request.created" in event_types(emu)
    no_invitation = lr.post("signup", email="alexander@example.com", password=NEW_PASSWORD)
    assert_error(no_invitation, 422, "invitation is required")

    invitation = emu.create_invitation("org", "alexander@example.com", org_id=org["id"])
    emu.send_invitation(invitation["id"])
    token = emu.emailed_token("invitation", to="alexander@example.com")
    answer = lr.post(
        "signup", email="alexander@example.com", password=NEW_PASSWORD, invitation=token
    )

    assert_full_login(answer, org["id"])
    assert "invitation.org.accepted" in event_types(emu)


def test_an_open_realm_takes_no_invitation_requests(lr) -> None:
    assert_error(lr.post("signup/request", email="a@example.com"), 422, "not accepted")


def test_email_verify_refuses_a_made_up_token(lr) -> None:
    assert_error(lr.post("email/verify", token="vet_made_up"), 422, "Token is invalid")


# -- conditions the realm's options bring ----------------------------------------------------------


def test_must_verify_email_until_the_mailed_token_is_used(emu, lr, ada) -> None:
    emu.configure(lr_email_verification="required")
    emu.update_user(ada["id"], email_verification="none")

    body = lr.post("login", email="ada@example.com", password=PASSWORD).json()
    assert body["result"] == "conditional_login"
    assert body["conditions"] == ["must_verify_email"]
    assert "token" not in body

    token = emu.emailed_token("verify_email", to="ada@example.com")
    assert lr.post("email/verify", token=token).json() == {"result": "okay"}
    assert_full_login(lr.get_session(body["session"]))


def test_a_signup_in_a_realm_that_requires_verification_waits_for_the_one_mailed_link(
    emu, lr
) -> None:
    emu.configure(lr_email_verification="required")

    body = lr.post("signup", email="new@example.com", password=NEW_PASSWORD).json()

    assert body["result"] == "conditional_login"
    assert body["conditions"] == ["must_verify_email"]
    assert [mail["kind"] for mail in emu.outbox] == ["verify_email"]
    lr.post("email/verify", token=emu.emailed_token("verify_email"))
    assert_full_login(lr.get_session(body["session"]))


def test_must_complete_profile_until_put_profile_fills_the_name(emu, lr) -> None:
    emu.configure(lr_required_profile="name")
    user = emu.create_user("half@example.com", first_name="Half", password=PASSWORD)
    org = emu.create_org("Org")
    emu.create_membership(user["id"], org["id"])

    body = lr.post("login", email="half@example.com", password=PASSWORD).json()
    assert body["result"] == "conditional_login"
    assert body["conditions"] == ["must_complete_profile"]
    assert body["account"] == org["id"]

    answer = lr.call("PUT", "profile", json={"session": body["session"], "last_name": "Done"})
    assert_full_login(answer, org["id"])


@pytest.mark.parametrize(
    ("without_org", "result", "account"),
    [
        ("create_org", "full_login", "org"),
        ("no_account", "full_login", None),
        ("must_complete_profile", "conditional_login", None),
    ],
)
def test_a_person_with_no_org_in_single_user(emu, lr, without_org, result, account) -> None:
    emu.configure(lr_without_org=without_org)
    emu.create_user("alan@example.com", password=PASSWORD)

    body = lr.post("login", email="alan@example.com", password=PASSWORD).json()

    assert body["result"] == result
    if account is None:
        assert body["account"] is None
    else:
        assert body["account"].startswith("org_")
    assert ("token" in body) == (result == "full_login")


def test_the_fields_error_shape_maps_messages_to_fields(emu, lr) -> None:
    emu.configure(lr_error_shape="fields")

    body = lr.post("signup", email="x@example.com", password="short").json()

    assert body["field_errors"] == {"password": [body["error"]]}
    # A message about no one field (a failed login) stays out of the map.
    assert lr.post("login", email="x", password="y").json()["field_errors"] == {}


# -- the HTTP manners: errors, bodies, CORS, rate limit ---------------------------------------------


def test_unknown_paths_wrong_methods_and_bad_bodies(emu, http, lr) -> None:
    assert_error(lr.post("nothing-here"), 404, "Not found")
    wrong_method = lr.call("GET", "login")
    assert_error(wrong_method, 405, "Method not allowed")
    assert wrong_method.headers["Allow"] == "POST"
    not_json = lr.call("POST", "login", data=b"{oops", headers={"Content-Type": "application/json"})
    assert_error(not_json, 400, "not a JSON object")
    assert_error(lr.call("POST", "login", json=["a", "list"]), 400, "not a JSON object")
    assert_error(lr.post("login", email=["a"], password=1), 422, "Email is invalid")
    assert emu.server_errors == []


def test_cors_preflight_from_an_allowed_origin_and_the_answer_carry_the_headers(emu, lr, ada):
    emu.configure(lr_cors_origins=["http://localhost:4000"])
    preflight = lr.call(
        "OPTIONS",
        "login",
        headers={
            "Origin": "http://localhost:4000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, lr-agent, accept-language",
        },
    )

    assert preflight.status_code == 204
    assert preflight.headers["X-Request-ID"].startswith("rq_")
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:4000"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"content-type", "lr-agent", "accept-language"} <= set(
        allowed.replace(" ", "").split(",")
    )
    answer = lr.call(
        "POST",
        "login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers={"Origin": "http://localhost:4000"},
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:4000"
    assert "X-Request-ID" in answer.headers["Access-Control-Expose-Headers"]


def test_cors_from_another_origin_gets_no_cors_headers(emu, lr, ada) -> None:
    emu.configure(lr_cors_origins=["https://app.example"])
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}

    preflight = lr.call("OPTIONS", "login", headers=headers)
    answer = lr.call(
        "POST", "login", json={"email": "ada@example.com", "password": PASSWORD}, headers=headers
    )

    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in answer.headers
    # A port is part of the origin ("Accessing the LoginRocket API": non-default ports needed).
    other_port = {"Origin": "https://app.example:8443", "Access-Control-Request-Method": "POST"}
    assert lr.call("OPTIONS", "login", headers=other_port).status_code == 403


def test_the_rate_limit_by_connection_ignores_forwarded_addresses(emu, lr, ada) -> None:
    emu.configure(lr_rate_limit=2, lr_rate_window=60)
    forwarded = [{"X-Forwarded-For": f"203.0.113.{n}"} for n in range(3)]

    answers = [lr.call("GET", "session", headers=h) for h in forwarded]

    assert [a.status_code for a in answers] == [403, 403, 429]
    assert_error(answers[2], 429, "Rate limited")
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60


def test_the_rate_limit_by_forwarded_address_counts_each_address(emu, lr, ada) -> None:
    emu.configure(lr_rate_limit=1, lr_rate_limit_by="forwarded")
    first = {"X-Forwarded-For": "203.0.113.1, 10.0.0.1"}
    second = {"X-Forwarded-For": "203.0.113.2"}

    assert lr.call("GET", "session", headers=first).status_code == 403
    assert lr.call("GET", "session", headers=second).status_code == 403
    limited = lr.call("GET", "session", headers={"X-Forwarded-For": "203.0.113.1"})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


def test_the_rate_limit_speaks_spanish_too_and_reset_clears_it(emu, lr) -> None:
    emu.configure(lr_rate_limit=1)
    lr.call("GET", "session")
    answer = lr.call("GET", "session", headers={"Accept-Language": "es"})
    assert_error(answer, 429, "Demasiadas solicitudes")

    emu.reset()
    assert lr.call("GET", "session").status_code == 403


# -- fault injection on /v2/ -------------------------------------------------------------------


def test_fault_injection_applies_to_the_loginrocket_api(emu, lr, ada) -> None:
    emu.inject_fault("/v2/login", kind="drop")
    with pytest.raises(requests.ConnectionError):
        lr.post("login", email="ada@example.com", password=PASSWORD)

    emu.inject_fault("/v2/login", status=503)
    assert lr.post("login", email="ada@example.com", password=PASSWORD).status_code == 503

    emu.inject_fault("/v2/*", kind="html")
    html = lr.post("login", email="ada@example.com", password=PASSWORD)
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")

    emu.inject_fault("/v2/session", method="GET", status=429, retry_after=9)
    limited = lr.get_session("kss_any")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "9"

    assert_full_login(lr.post("login", email="ada@example.com", password=PASSWORD))


# -- the demo realm --------------------------------------------------------------------------------


def test_every_active_demo_person_logs_in_with_the_demo_password(emu, lr) -> None:
    people = seed_demo_users(emu)

    for person in people:
        answer = lr.post("login", email=person["email"], password=DEMO_PASSWORDS[person["email"]])
        if person["state"] != "active":
            assert_error(answer, 422, "Login failed")
        elif person["email"] == DEMO_TOTP_EMAIL:
            body = answer.json()
            assert body["conditions"] == ["login_verification_required"]
            code = totp(DEMO_TOTP_SECRET)
            assert_full_login(lr.post("login/verify", session=body["session"], code=code))
        else:
            assert answer.json()["result"] == "full_login", answer.text


def test_the_demo_home_page_shows_every_active_demo_password_and_the_totp_secret() -> None:
    home = Path(__file__).resolve().parents[2] / "example_project/demo_site/templates/demo_site"
    text = (home / "home.html").read_text()

    for email, password in DEMO_PASSWORDS.items():
        if not email.startswith("isaac"):  # the inactive one is not offered
            assert email in text
            assert f"<code>{password}</code>" in text
    assert f"<code>{DEMO_TOTP_SECRET}</code>" in text
