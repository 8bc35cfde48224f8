"""The in-site login forms against the emulator's LoginRocket API, over real HTTP.

Every view, every ``result`` (full_login, conditional_login with each condition, okay, error)
and every error status (403, 404, 409/422, 429, the API unreachable, a 5xx, an HTML answer),
with the emulator's realm options and fault injection. Passwords typed here are in
tests/log_capture.py's TEST_PASSWORDS: the suite-wide log scan fails a test that logs one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_authrocket import form_flow
from django_authrocket.models import AuthRocketLogin
from django_authrocket.testing import authrocket_session_id, start_login
from tests.helpers import is_logged_in, mirror_memberships_from_api
from tests.log_capture import TEST_PASSWORDS

pytestmark = pytest.mark.django_db

PASSWORD, NEW_PASSWORD, SIGNUP_PASSWORD = TEST_PASSWORDS
LOGIN = "/form/login/"

FORM_URLS = [
    "authrocket:form_login",
    "authrocket:form_verify",
    "authrocket:form_check_email",
    "authrocket:form_signup",
    "authrocket:form_forgot_password",
    "authrocket:form_reset_password",
    "authrocket:form_password",
    "authrocket:form_profile",
    "authrocket:form_orgs",
    "authrocket:form_verify_email",
]


@pytest.fixture
def forms(settings, emulator):  # type: ignore[no-untyped-def]
    """The in-site forms on, the site pointed at the emulator."""
    settings.AUTHROCKET_LOGIN_FORMS = True
    return emulator


@pytest.fixture
def ada_pw(forms, ada):  # type: ignore[no-untyped-def]
    """Ada, with a password."""
    forms.set_password(ada["id"], PASSWORD)
    return ada


def lr_calls(emulator: Any, path: str = "/v2/*", method: str | None = None) -> int:
    return int(emulator.count_requests(path, method=method))


def log_in(client: Client, login: str = "ada@example.com", password: str = PASSWORD, **extra: Any):
    return client.post(LOGIN, {"login": login, "password": password}, **extra)


def errors_of(response: Any) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]*)<', response.content.decode())


def field_error(response: Any, field: str) -> str:
    """The error text shown next to ``field`` (empty when none)."""
    match = re.search(rf'id="field-{field}">(.*?)</p>', response.content.decode(), flags=re.DOTALL)
    assert match, f"no field {field} on the page"
    return " ".join(re.findall(r'class="error"[^>]*>([^<]*)<', match.group(1)))


# --- off by default ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORM_URLS)
def test_the_forms_answer_404_unless_turned_on(emulator, name) -> None:
    client = Client()
    assert client.get(reverse(name)).status_code == 404
    assert client.post(reverse(name), {"login": "a", "password": "b"}).status_code == 404
    assert lr_calls(emulator) == 0


# --- login ------------------------------------------------------------------------------------


def test_a_login_goes_through_the_token_path_with_a_new_session_key(forms, ada_pw) -> None:
    client = Client()
    page = client.get(LOGIN, {"next": "/private/"})
    assert page.status_code == 200 and b'name="password"' in page.content
    assert "no-cache" in page["Cache-Control"]
    client.get("/public/")
    before = client.session.session_key

    response = log_in(client, "ada@example.com")

    assert response.status_code == 303
    assert is_logged_in(client)
    assert client.session.session_key != before  # a new session key, as a ?token= login
    session_id = authrocket_session_id(client)
    assert session_id and session_id.startswith("kss_")
    assert AuthRocketLogin.objects.filter(authrocket_session_id=session_id).exists()
    assert client.session.get(form_flow.IN_SITE_KEY) is True
    # The token went server to server: not in the redirect, not in the session entry.
    assert "token" not in response["Location"]
    assert not any(isinstance(v, str) and v.startswith("eyJ") for v in client.session.values())
    assert lr_calls(forms, "/v2/login", "POST") == 1


def test_the_login_keeps_next_and_takes_a_username(forms, ada_pw) -> None:
    client = Client()
    response = client.post(f"{LOGIN}?next=/private/", {"login": "ada", "password": PASSWORD})
    assert response.status_code == 303 and response["Location"] == "/private/"
    assert is_logged_in(client)


def test_an_unsafe_next_is_dropped(forms, ada_pw) -> None:
    response = Client().post(
        f"{LOGIN}?next=https://evil.example/", {"login": "ada", "password": PASSWORD}
    )
    assert response["Location"] == "/public/"


def test_a_wrong_password_is_shown_and_never_echoed(forms, ada_pw) -> None:
    client = Client()
    response = log_in(client, password="wrong-guess-123")

    assert response.status_code == 422
    assert any("Login failed" in error for error in errors_of(response))
    assert b"wrong-guess-123" not in response.content
    assert not is_logged_in(client)


def test_messages_follow_the_active_language(forms, ada_pw, settings) -> None:
    settings.LANGUAGE_CODE = "es"
    response = log_in(Client(), password="wrong-guess-123")
    assert response.status_code == 422
    assert "Error al iniciar sesión" in " ".join(errors_of(response))
    recorded = [r for r in forms.requests if r.path == "/v2/login"][-1]
    assert recorded.headers.get("Accept-Language") == "es"


def test_the_api_call_carries_the_persons_address_and_browser_and_no_session_header(
    forms, ada_pw
) -> None:
    log_in(Client(), HTTP_USER_AGENT="Probe/1.0", REMOTE_ADDR="203.0.113.9")
    recorded = [r for r in forms.requests if r.path == "/v2/login"][-1]
    headers = {k.lower(): v for k, v in recorded.headers.items()}
    assert headers["x-forwarded-for"] == "203.0.113.9"
    assert headers["user-agent"] == "Probe/1.0"
    assert headers["accept"] == "application/json"
    assert headers["lr-agent"].startswith("django-authrocket/")


def test_a_refused_token_lands_on_the_failure_page(forms, ada_pw, settings) -> None:
    settings.AUTHROCKET_CREATE_USERS = False  # the token is fine, the site refuses the person
    client = Client()
    response = log_in(client)
    assert response.status_code == 303
    assert response["Location"].startswith(reverse("authrocket:login_failed"))
    assert "reason=no_local_user" in response["Location"]
    assert not is_logged_in(client)


# --- the second factor --------------------------------------------------------------------------


def test_the_second_factor(forms, ada_pw) -> None:
    forms.enable_totp(ada_pw["id"])
    client = Client()
    response = client.post(f"{LOGIN}?next=/private/", {"login": "ada", "password": PASSWORD})
    assert response.status_code == 303
    assert response["Location"] == reverse("authrocket:form_verify")
    assert not is_logged_in(client)
    # The pending LoginRocket session is on the server only.
    assert not any("kss_" in str(v) for v in client.session.values())

    page = client.get(response["Location"])
    assert page.status_code == 200 and b'name="code"' in page.content

    wrong = client.post(response["Location"], {"code": "000000"})
    assert wrong.status_code == 422
    assert "Verification code is invalid" in field_error(wrong, "code")

    done = client.post(response["Location"], {"code": forms.totp_code(ada_pw["id"])})
    assert done.status_code == 303 and done["Location"] == "/private/"
    assert is_logged_in(client)
    assert client.get(response["Location"]).status_code == 409  # no pending login now


def test_the_verify_step_without_a_pending_login(forms) -> None:
    response = Client().get(reverse("authrocket:form_verify"))
    assert response.status_code == 409
    assert b"timed out" in response.content


# --- conditions ---------------------------------------------------------------------------------


def test_no_account_selected_leads_to_the_org_picker(forms, ada_pw) -> None:
    forms.configure(lr_org_mode="multi_user")
    second = forms.create_org("Difference Ltd")
    forms.create_membership(ada_pw["id"], second["id"])
    client = Client()

    response = log_in(client)
    assert response.status_code == 303
    assert response["Location"] == reverse("authrocket:form_orgs")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Analytical Engines" in page.content and b"Difference Ltd" in page.content

    done = client.post(response["Location"], {"account": second["id"]})
    assert done.status_code == 303
    me = client.get("/private/")
    assert me.status_code == 200
    assert me.wsgi_request.authrocket.selected_org.id == second["id"]


def test_the_org_picker_reads_a_membership_whose_org_is_of_another_shape(forms, ada_pw) -> None:
    """The Core API's membership names its org by a string, not an object: the picker offers
    the org by its id, rather than answering 500."""
    forms.configure(lr_org_mode="multi_user")
    second = forms.create_org("Difference Ltd")
    forms.create_membership(ada_pw["id"], second["id"])
    client = Client()
    response = log_in(client)
    odd = {"object": "membership", "id": "mb_odd", "user_id": ada_pw["id"]}
    odd |= {"org_id": second["id"], "org": "Difference Ltd"}
    body = json.dumps({"collection": [odd], "more_results": False}).encode()
    forms.inject_fault("/api/v2/memberships", kind="body", status=200, body=body, times=None)

    page = client.get(response["Location"])

    assert page.status_code == 200 and second["id"].encode() in page.content


def test_an_org_not_offered_is_refused_by_the_form(forms, ada_pw) -> None:
    forms.configure(lr_org_mode="multi_user")
    client = Client()
    log_in(client)
    response = client.post(reverse("authrocket:form_orgs"), {"account": "org_not_mine"})
    assert response.status_code == 200 and errors_of(response)
    assert not is_logged_in(client)


def test_must_complete_profile_leads_to_the_profile_form(forms) -> None:
    forms.configure(lr_required_profile="name")
    user = forms.create_user("nameless@example.com", password=PASSWORD)
    org = forms.create_org("Nameless Org")
    forms.create_membership(user["id"], org["id"], selected=True)
    client = Client()

    response = log_in(client, "nameless@example.com")
    assert response["Location"] == reverse("authrocket:form_profile")
    assert client.get(response["Location"]).status_code == 200
    done = client.post(
        response["Location"],
        {"first_name": "Nora", "last_name": "Name", "email": "nameless@example.com"},
    )
    assert done.status_code == 303
    assert is_logged_in(client)
    assert client.get("/private/").wsgi_request.user.first_name == "Nora"


def test_must_verify_email_says_to_check_the_email(forms) -> None:
    forms.configure(lr_email_verification="required")
    forms.create_user("unverified@example.com", password=PASSWORD, email_verification="none")
    client = Client()

    response = log_in(client, "unverified@example.com")
    assert response["Location"] == reverse("authrocket:form_check_email")
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Check your email" in page.content
    assert not is_logged_in(client)

    # The emailed link: the token leaves the address bar, one button posts it.
    token = forms.emailed_token("verify_email", to="unverified@example.com")
    link = client.get(reverse("authrocket:form_verify_email_link", args=[token]))
    assert link["Location"] == reverse("authrocket:form_verify_email")
    assert client.get(link["Location"]).status_code == 200
    verified = client.post(link["Location"])
    assert verified.status_code == 200 and b"is verified" in verified.content
    assert forms.get_user("unverified@example.com")["email_verification"] == "verified"
    assert log_in(Client(), "unverified@example.com").status_code == 303
    again = client.post(link["Location"])
    assert again.status_code == 404  # the token was used


# --- errors and faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "text"),
    [
        ({"kind": "drop"}, 503, b"could not be reached"),
        ({"kind": "status", "status": 500}, 503, b"could not be reached"),
        ({"kind": "status", "status": 502}, 503, b"could not be reached"),
        ({"kind": "html"}, 503, b"could not be reached"),
        ({"kind": "malformed_json"}, 503, b"could not be reached"),
        ({"kind": "status", "status": 429, "retry_after": 7}, 429, b"wait a moment"),
        ({"kind": "status", "status": 403}, 403, b"session has expired"),
    ],
    ids=["unreachable", "500", "502", "html", "not-json", "429", "403"],
)
def test_every_failure_is_a_clear_page_never_a_500_and_never_retried(
    forms, ada_pw, fault, status, text
) -> None:
    forms.inject_fault("/v2/login", times=None, **fault)
    client = Client(raise_request_exception=False)

    response = log_in(client)

    assert response.status_code == status
    assert text in response.content
    assert b'name="login"' in response.content  # the form again, to try once more
    assert lr_calls(forms, "/v2/login") == 1  # one attempt: nothing retries
    assert not is_logged_in(client)


def test_a_real_rate_limit_answer_is_shown_with_its_wait(forms, ada_pw) -> None:
    forms.configure(lr_rate_limit=1)
    client = Client()
    assert log_in(client, password="wrong-guess-123").status_code == 422
    response = log_in(client)
    assert response.status_code == 429
    assert b"wait a moment" in response.content
    assert int(response["Retry-After"]) >= 1
    assert lr_calls(forms, "/v2/login") == 2


def test_the_local_throttle_spares_the_sites_budget(forms, ada_pw, settings) -> None:
    settings.AUTHROCKET_FORMS_THROTTLE = (2, 60)
    client = Client()
    for _ in range(2):
        assert log_in(client, password="wrong-guess-123").status_code == 422
    response = log_in(client)
    assert response.status_code == 429 and b"wait a moment" in response.content
    assert lr_calls(forms, "/v2/login") == 2  # the third never reached LoginRocket
    # Another address still gets through.
    assert log_in(Client(), REMOTE_ADDR="198.51.100.7").status_code == 303


def test_a_form_invalid_here_never_calls_loginrocket(forms) -> None:
    response = Client().post(LOGIN, {"login": "", "password": ""})
    assert response.status_code == 200
    assert lr_calls(forms) == 0


# --- signup ---------------------------------------------------------------------------------------


def test_open_signup_logs_the_new_person_in(forms) -> None:
    client = Client()
    data = {
        "first_name": "Sam",
        "last_name": "Signup",
        "email": "sam@example.com",
        "password": SIGNUP_PASSWORD,
        "password_confirmation": SIGNUP_PASSWORD,
    }
    response = client.post(reverse("authrocket:form_signup"), data)
    assert response.status_code == 303
    assert is_logged_in(client)
    assert forms.get_user("sam@example.com")["first_name"] == "Sam"


def test_signup_errors_go_next_to_their_fields(forms, ada) -> None:
    data = {
        "email": "ada@example.com",
        "password": SIGNUP_PASSWORD,
        "password_confirmation": SIGNUP_PASSWORD,
    }
    taken = Client().post(reverse("authrocket:form_signup"), data)
    assert taken.status_code == 422  # a 409 from LoginRocket, its errors in the body
    assert "already been taken" in field_error(taken, "email")

    short = dict(data, email="short@example.com", password="abc", password_confirmation="abc")
    response = Client().post(reverse("authrocket:form_signup"), short)
    assert response.status_code == 422
    assert "too short" in field_error(response, "password")


def test_field_errors_in_the_map_shape_too(forms) -> None:
    forms.configure(lr_error_shape="fields")
    short = {"email": "short@example.com", "password": "abc", "password_confirmation": "abc"}
    response = Client().post(reverse("authrocket:form_signup"), short)
    assert response.status_code == 422
    assert field_error(response, "password").count("too short") == 1


def test_signup_by_invitation_asks_for_one(forms, settings) -> None:
    settings.AUTHROCKET_FORMS_SIGNUP = "invitation"
    forms.configure(lr_signup="invitation")
    page = Client().get(reverse("authrocket:form_signup"))
    assert b'name="password"' not in page.content
    response = Client().post(reverse("authrocket:form_signup"), {"email": "new@example.com"})
    assert response.status_code == 200 and b"invitation" in response.content
    assert lr_calls(forms, "/v2/signup/request", "POST") == 1


def test_signup_closed_here_is_a_404(forms, settings) -> None:
    settings.AUTHROCKET_FORMS_SIGNUP = None
    assert Client().get(reverse("authrocket:form_signup")).status_code == 404


# --- forgot and reset password -------------------------------------------------------------------


def test_forgot_then_reset_password_logs_in_with_the_new_one(forms, ada_pw) -> None:
    client = Client()
    sent = client.post(reverse("authrocket:form_forgot_password"), {"email": "ada@example.com"})
    assert sent.status_code == 200 and b"Check your email" in sent.content
    token = forms.emailed_token("password_reset", to="ada@example.com")

    link = client.get(reverse("authrocket:form_reset_password_link", args=[token]))
    assert link.status_code == 303
    assert link["Location"] == reverse("authrocket:form_reset_password")  # no token in the URL
    page = client.get(link["Location"])
    assert page.status_code == 200 and token.encode() not in page.content

    mismatch = client.post(
        link["Location"], {"password": NEW_PASSWORD, "password_confirmation": "other-one-99"}
    )
    assert mismatch.status_code == 200 and field_error(mismatch, "password_confirmation")
    done = client.post(
        link["Location"], {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    )
    assert done.status_code == 303
    assert is_logged_in(client)
    assert log_in(Client(), password=NEW_PASSWORD).status_code == 303
    assert log_in(Client(), password=PASSWORD).status_code == 422


def test_a_bad_reset_token_is_said_and_a_missing_one_is_a_404(forms, ada_pw) -> None:
    client = Client()
    client.get(reverse("authrocket:form_reset_password_link", args=["not-a-real-token"]))
    response = client.post(
        reverse("authrocket:form_reset_password"),
        {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD},
    )
    assert response.status_code == 422 and "invalid" in " ".join(errors_of(response))
    assert Client().get(reverse("authrocket:form_reset_password")).status_code == 404


# --- logged in: password, profile, orgs, logout --------------------------------------------------


@pytest.fixture
def in_site(forms, ada_pw) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert log_in(client).status_code == 303
    return client


def test_change_password(forms, in_site) -> None:
    url = reverse("authrocket:form_password")
    wrong = in_site.post(
        url,
        {
            "current_password": "wrong-guess-123",
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 422
    assert "Current password does not match" in field_error(wrong, "current_password")
    done = in_site.post(
        url,
        {
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
        },
    )
    assert done.status_code == 200 and b"has been changed" in done.content
    assert log_in(Client(), password=NEW_PASSWORD).status_code == 303


def test_change_password_needs_a_login_and_a_live_session(forms, in_site) -> None:
    response = Client().get(reverse("authrocket:form_password"))
    assert response.status_code == 303
    assert response["Location"].startswith(reverse("authrocket:form_login") + "?next=")

    forms.end_session(authrocket_session_id(in_site))  # ended at AuthRocket meanwhile
    ended = in_site.post(
        reverse("authrocket:form_password"),
        {
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
        },
    )
    assert ended.status_code == 403 and b"session has expired" in ended.content


def test_profile_update_logs_in_again_with_the_new_names(forms, in_site) -> None:
    url = reverse("authrocket:form_profile")
    page = in_site.get(url)
    assert b'value="Ada"' in page.content
    response = in_site.post(
        url, {"first_name": "Augusta", "last_name": "King", "email": "ada@example.com"}
    )
    assert response.status_code == 303
    assert in_site.get("/private/").wsgi_request.user.first_name == "Augusta"
    assert forms.get_user("ada@example.com")["first_name"] == "Augusta"


def test_profile_needs_a_login(forms) -> None:
    assert Client().get(reverse("authrocket:form_profile")).status_code == 303


def test_an_org_switch_without_leaving_the_site(forms, ada_pw) -> None:
    second = forms.create_org("Difference Ltd")
    forms.create_membership(ada_pw["id"], second["id"])
    client = Client()
    assert log_in(client).status_code == 303
    session_before = authrocket_session_id(client)
    # The token names the selected org only; the site knows the others from its mirror.
    assert b"Difference Ltd" not in client.get(reverse("authrocket:form_orgs")).content
    mirror_memberships_from_api(ada_pw["id"])  # the sync, or a webhook
    page = client.get(reverse("authrocket:form_orgs"))
    assert b"Difference Ltd" in page.content

    response = client.post(reverse("authrocket:form_orgs"), {"account": second["id"]})

    assert response.status_code == 303
    me = client.get("/private/").wsgi_request.authrocket
    assert me.selected_org.id == second["id"]
    assert me.id == session_before  # the same LoginRocket session, another account
    assert lr_calls(forms, "/v2/session", "GET") == 1


def test_logout_ends_the_loginrocket_session(forms, in_site) -> None:
    session_id = authrocket_session_id(in_site)

    response = in_site.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/public/"  # no hop to LoginRocket's /logout
    assert lr_calls(forms, "/v2/session", "DELETE") == 1
    assert not is_logged_in(in_site)
    ended = [e for e in forms.events if e["event_type"] == "session.deleted"]
    assert ended, "LoginRocket's session did not end"
    assert session_id


def test_logout_goes_on_when_loginrocket_is_away(forms, in_site) -> None:
    forms.inject_fault("/v2/session", method="DELETE", kind="drop")
    response = in_site.post("/logout/")
    assert response.status_code == 302 and not is_logged_in(in_site)


def test_a_hosted_login_still_logs_out_at_loginrocket(forms, ada) -> None:
    from tests.helpers import logged_in

    client = logged_in(forms, ada)
    response = client.post("/logout/")
    assert response["Location"].startswith(f"{forms.loginrocket_url}/logout?")
    assert lr_calls(forms, "/v2/session", "DELETE") == 0


# --- what an in-site login costs in calls to AuthRocket ------------------------------------------


@pytest.mark.parametrize("mode", ["jwt", "api"])
def test_an_in_site_login_adds_at_most_one_call_to_authrocket_over_the_hosted_flow(
    forms, ada_pw, settings, mode, capsys
) -> None:
    """Every request AuthRocket receives (the emulator's request log), from the browser and
    from the site, for one login each way, from a cold start (no keys cached)."""
    import requests
    from django.core.cache import caches

    from django_authrocket.keys import forget_stores

    settings.AUTHROCKET_VERIFY = mode

    def cold() -> None:
        caches["default"].clear()
        forget_stores()
        forms.clear_requests()

    # Hosted: the browser asks LoginRocket's login page, posts it, comes back with ?token=.
    cold()
    hosted_client = Client()
    start_login(hosted_client)  # the login starts at the site, as a browser's does
    back_to = "http://testserver/login/"
    with requests.Session() as browser:
        browser.trust_env = False
        page = browser.get(f"{forms.loginrocket_url}/login", params={"redirect_uri": back_to})
        assert page.status_code == 200
        answer = browser.post(
            f"{forms.loginrocket_url}/login",
            data={"user_id": ada_pw["id"], "redirect_uri": back_to},
            allow_redirects=False,
        )
    location = answer.headers["Location"]
    assert location.startswith(back_to)
    assert hosted_client.get(location.removeprefix("http://testserver")).status_code == 302
    assert is_logged_in(hosted_client)
    hosted = len(forms.requests)

    # In the site: one form post; the site's server calls the LoginRocket API.
    cold()
    client = Client()
    assert log_in(client).status_code == 303
    assert is_logged_in(client)
    in_site = len(forms.requests)

    with capsys.disabled():
        print(
            f"\n[login cost, {mode} mode] calls to AuthRocket: hosted {hosted}, in-site "
            f"{in_site}, difference {in_site - hosted:+d}"
        )
    assert in_site - hosted <= 1


# --- CSRF and error reports -----------------------------------------------------------------------


def test_every_post_needs_the_csrf_token(forms, ada_pw) -> None:
    client = Client(enforce_csrf_checks=True)
    assert log_in(client).status_code == 403
    assert lr_calls(forms) == 0
    page = client.get(LOGIN)
    token = page.context["csrf_token"]
    response = client.post(
        LOGIN, {"login": "ada", "password": PASSWORD, "csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 303


def test_passwords_and_codes_are_hidden_from_error_reports(forms, ada_pw) -> None:
    from django.views.debug import SafeExceptionReporterFilter

    response = Client().post(
        reverse("authrocket:form_password"),
        {"current_password": PASSWORD, "password": NEW_PASSWORD},
    )
    assert response.status_code == 303  # not logged in: sent to the login form
    response = log_in(Client(), password=NEW_PASSWORD)
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["password"] != NEW_PASSWORD and set(shown["password"]) == {"*"}
    assert shown["login"] == "ada@example.com"


# --- system checks -----------------------------------------------------------------------------


def test_the_checks_report_bad_form_settings_and_authrocket_1(settings) -> None:
    from django_authrocket.checks import check_login_forms
    from django_authrocket.conf import app_settings

    assert check_login_forms() == []
    settings.AUTHROCKET_FORMS_SIGNUP = "sometimes"
    settings.AUTHROCKET_FORMS_THROTTLE = (0, "a minute")
    assert [m.id for m in check_login_forms()] == ["authrocket.E040", "authrocket.E040"]
    assert app_settings.FORMS_THROTTLE == (10, 60)  # malformed: still throttled, by default

    settings.AUTHROCKET_FORMS_SIGNUP = None
    settings.AUTHROCKET_FORMS_THROTTLE = [5, 30]
    assert check_login_forms() == []
    assert app_settings.FORMS_THROTTLE == (5, 30)

    settings.AUTHROCKET_LOGIN_FORMS = True
    settings.AUTHROCKET_URL = "https://api-e1.authrocket.com/v1"
    assert [m.id for m in check_login_forms()] == ["authrocket.W040"]
