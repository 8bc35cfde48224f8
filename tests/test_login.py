"""The login flow end to end: Django's test client, the emulator, a real database."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.test import Client

from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser
from django_authrocket.signals import authrocket_login
from django_authrocket.testing import authrocket_session_id
from tests.helpers import login_with, memberships_of, mirror_memberships_from_api, query_of

User = get_user_model()

pytestmark = pytest.mark.django_db


# --- the flow ---------------------------------------------------------------------------------


def test_a_private_page_sends_the_browser_to_loginrocket_and_back_logged_in(
    client, emulator, ada, token_orgs
) -> None:
    response = client.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/private/"

    response = client.get(response["Location"])
    assert response.status_code == 302
    loginrocket = response["Location"]
    assert loginrocket.startswith(f"{emulator.loginrocket_url}/login?")
    redirect_uri = query_of(loginrocket)["redirect_uri"][0]
    assert redirect_uri == "http://testserver/login/?next=%2Fprivate%2F"

    # The person picks their account on the (emulated) LoginRocket page.
    chosen = requests.post(
        f"{emulator.loginrocket_url}/login",
        data={"redirect_uri": redirect_uri, "user_id": ada["id"]},
        allow_redirects=False,
        timeout=5,
    )
    assert chosen.status_code == 302
    back = urlsplit(chosen.headers["Location"])
    assert back.path == "/login/" and "token" in parse_qs(back.query)

    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 302
    assert response["Location"] == "/private/"
    assert "token" not in response["Location"]
    assert response["Referrer-Policy"] == "no-referrer"

    page = client.get("/private/").json()
    assert page["username"] == "ada"
    assert page["authrocket_session"].startswith("kss_")
    [membership] = memberships_of(emulator, ada["id"])
    # With no org data in the token, the org comes from the mirror, still empty at a first login.
    assert page["org"] == (None if token_orgs == "none" else membership["org_id"])


def test_login_without_next_goes_to_login_redirect_url(client, emulator, ada) -> None:
    response = login_with(client, emulator.mint_token(ada["id"]))
    assert response["Location"] == "/public/"


def test_the_first_login_creates_the_user_and_the_mirror(client, emulator, ada, token_orgs) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    mirror = AuthRocketUser.objects.select_related("user").get(authrocket_id=ada["id"])
    assert mirror.email == "ada@example.com" and mirror.name == "Ada Lovelace"
    assert mirror.user.username == "ada" and mirror.user.email == "ada@example.com"
    assert (mirror.user.first_name, mirror.user.last_name) == ("Ada", "Lovelace")
    assert not mirror.user.has_usable_password()
    if token_orgs == "none":  # nothing to learn from the token: the sync and webhooks tell
        assert not AuthRocketMembership.objects.exists()
        return
    membership = AuthRocketMembership.objects.get(user=mirror)
    assert membership.org.name == "Analytical Engines" and membership.org.reference == "ae-1"
    assert membership.permissions == ["ar:admin", "billing:*"] and membership.selected


def test_a_second_login_updates_the_mirror(client, emulator, ada, token_orgs) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    emulator.update_user(ada["id"], first_name="Augusta", email="augusta@example.com")
    other_org = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], other_org["id"], permissions=["looms:read"])
    login_with(Client(), emulator.mint_token(ada["id"]))
    mirror = AuthRocketUser.objects.select_related("user").get(authrocket_id=ada["id"])
    assert mirror.first_name == "Augusta" and mirror.email == "augusta@example.com"
    assert mirror.user.email == "augusta@example.com"
    assert User.objects.count() == 1
    # The token's orgs are added: every one, the selected one only (Looms is not), or none.
    expected = {
        "all": {"Analytical Engines", "Looms"},
        "selected": {"Analytical Engines"},
        "none": set(),
    }[token_orgs]
    assert set(mirror.memberships.values_list("org__name", flat=True)) == expected


def test_a_login_never_removes_a_membership_the_token_leaves_out(
    client, emulator, ada, token_orgs
) -> None:
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    login_with(client, emulator.mint_token(ada["id"]))
    mirror_memberships_from_api(ada["id"])  # the sync: both memberships
    [gone] = [m for m in memberships_of(emulator, ada["id"]) if m["org_id"] == looms["id"]]
    emulator.delete_membership(gone["id"])

    login_with(Client(), emulator.mint_token(ada["id"]))
    assert AuthRocketMembership.objects.count() == 2  # a token is not the list of her orgs

    mirror_memberships_from_api(ada["id"])  # the sync, a webhook or an API read removes it
    assert list(AuthRocketMembership.objects.values_list("org__name", flat=True)) == [
        "Analytical Engines"
    ]
    assert AuthRocketOrg.objects.count() == 2  # the org itself stays mirrored


def test_switching_accounts_keeps_both_memberships(emulator, ada) -> None:
    # LoginRocket's token names the selected org only ("LR always sends a JWT with exactly one
    # membership/org": authrocket-ruby lib/authrocket/rails/controller_helper.rb). The tokens
    # are built by hand so that this holds whatever the emulator's default shape.
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    [engines] = [m for m in memberships_of(emulator, ada["id"]) if m["org_id"] != looms["id"]]
    client = Client()
    seen = []
    for org_id, name, perm in (
        (engines["org_id"], "Analytical Engines", ["ar:admin"]),
        (looms["id"], "Looms", ["looms:read"]),
        (engines["org_id"], "Analytical Engines", ["ar:admin"]),
    ):
        only = [{"oid": org_id, "name": name, "perm": perm, "selected": True}]
        token = emulator.mint_token(ada["id"], org_id=org_id, claims={"orgs": only})
        assert login_with(client, token).status_code == 302
        seen.append(sorted(AuthRocketMembership.objects.values_list("org__name", "selected")))

    assert seen == [
        [("Analytical Engines", True)],
        [("Analytical Engines", False), ("Looms", True)],
        [("Analytical Engines", True), ("Looms", False)],
    ]


def test_a_token_without_an_orgs_claim_leaves_memberships_alone(client, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    login_with(Client(), emulator.mint_token(ada["id"], drop_claims=["orgs"]))
    assert AuthRocketMembership.objects.count() == 1


def test_users_are_matched_on_authrocket_id_never_on_email(client, emulator, ada) -> None:
    squatter = User.objects.create_user("someone", email="ada@example.com")
    login_with(client, emulator.mint_token(ada["id"]))
    mirror = AuthRocketUser.objects.get(authrocket_id=ada["id"])
    assert mirror.user != squatter
    assert User.objects.count() == 2


def test_a_taken_username_gets_a_unique_variant(client, emulator, ada) -> None:
    User.objects.create_user("ada")
    login_with(client, emulator.mint_token(ada["id"]))
    username = AuthRocketUser.objects.get(authrocket_id=ada["id"]).user.username
    assert username != "ada" and username.startswith("ada-")


def test_without_preferred_username_the_verified_email_is_the_username(client, emulator) -> None:
    bob = emulator.create_user("Bob@Example.com", email_verification="verified")
    login_with(client, emulator.mint_token(bob["id"], drop_claims=["preferred_username"]))
    assert AuthRocketUser.objects.get(authrocket_id=bob["id"]).user.username == "bob@example.com"


def test_without_username_or_verified_email_the_authrocket_id_is_the_username(
    client, emulator
) -> None:
    bob = emulator.create_user("bob@example.com", email_verification="none")
    login_with(client, emulator.mint_token(bob["id"], drop_claims=["preferred_username"]))
    assert AuthRocketUser.objects.get(authrocket_id=bob["id"]).user.username == bob["id"]


def test_a_taken_email_username_falls_back_to_the_authrocket_id(client, emulator) -> None:
    User.objects.create_user("bob@example.com")
    bob = emulator.create_user("bob@example.com")
    login_with(client, emulator.mint_token(bob["id"], drop_claims=["preferred_username"]))
    assert AuthRocketUser.objects.get(authrocket_id=bob["id"]).user.username == bob["id"]


def test_the_session_key_changes_at_login(client, emulator, ada) -> None:
    client.get("/public/")
    session = client.session
    session["before"] = True
    session.save()
    before = client.cookies["sessionid"].value
    login_with(client, emulator.mint_token(ada["id"]))
    assert client.cookies["sessionid"].value != before


def test_login_sends_authrocket_login_and_user_logged_in(client, emulator, ada) -> None:
    received = []

    def on_login(sender, **kwargs):
        received.append(("authrocket", kwargs["created"], kwargs["session"].user.id))

    def on_logged_in(sender, **kwargs):
        received.append(("django", kwargs["user"].username))

    authrocket_login.connect(on_login)
    user_logged_in.connect(on_logged_in)
    try:
        login_with(client, emulator.mint_token(ada["id"]))
        login_with(Client(), emulator.mint_token(ada["id"]))
    finally:
        authrocket_login.disconnect(on_login)
        user_logged_in.disconnect(on_logged_in)
    assert received == [
        ("authrocket", True, ada["id"]),
        ("django", "ada"),
        ("authrocket", False, ada["id"]),
        ("django", "ada"),
    ]


# --- generations and verification modes --------------------------------------------------------


@pytest.mark.parametrize("verify", ["jwt", "api"])
@pytest.mark.parametrize("generation", [2, 1])
def test_ar1_and_ar2_tokens_log_in_in_jwt_and_api_mode(
    client, settings, emulator, ada, verify, generation, token_orgs
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    settings.AUTHROCKET_URL = emulator.api_url(generation)
    if generation == 1:
        # AR1 tokens are HS256: both modes verify the signature here, with the realm secret.
        settings.AUTHROCKET_JWT_KEY = emulator.jwt_secret
    token = emulator.mint_token(ada["id"], generation=generation)
    response = login_with(client, token, "/private/")
    assert response.status_code == 302, response.content
    assert response["Location"] == "/private/"
    page = client.get("/private/").json()
    mirror = AuthRocketUser.objects.get(authrocket_id=ada["id"])
    # AuthRocket 1 tokens carry no email; the Get Session answer does.
    assert mirror.email == ("" if (generation, verify) == (1, "jwt") else "ada@example.com")
    # In "api" mode the memberships come with the Get Session answer (AuthRocket 1 embeds
    # them; AuthRocket 2's are read when its token carries no org data); in "jwt" mode only a
    # token with org data tells.
    if token_orgs == "none" and verify == "jwt":
        assert page["org"] is None
        assert not mirror.memberships.exists()
    else:
        assert page["org"] == mirror.memberships.get().org.authrocket_id
        assert mirror.memberships.get().permissions == ["ar:admin", "billing:*"]
    api_calls = emulator.count_requests("/api/*/sessions/*")
    assert api_calls == (1 if verify == "api" else 0)


def test_api_mode_refuses_an_ended_session(client, settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    session, token = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    response = login_with(client, token)
    assert response.status_code == 401
    assert b"session has ended" in response.content


def test_api_mode_with_authrocket_down_shows_a_retry_page_not_a_500(
    client, settings, emulator, ada
) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 0
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    response = login_with(client, emulator.mint_token(ada["id"]))
    assert response.status_code == 503
    assert b"could not be reached" in response.content
    assert "_auth_user_id" not in client.session


# --- refusals ---------------------------------------------------------------------------------


def test_a_replayed_token_cannot_log_in_a_second_browser(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    assert login_with(Client(), token).status_code == 302
    second = Client()
    response = login_with(second, token)
    assert response.status_code == 401
    assert b"already used" in response.content
    assert "_auth_user_id" not in second.session


def test_a_refused_replay_touches_no_user_and_sends_no_signal(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    assert login_with(Client(), token).status_code == 302
    emulator.update_user(ada["id"], first_name="Changed")
    received = []

    def on_login(sender, **kwargs):
        received.append(kwargs["user"])

    authrocket_login.connect(on_login)
    try:
        assert login_with(Client(), token).status_code == 401
    finally:
        authrocket_login.disconnect(on_login)
    assert received == []
    assert AuthRocketUser.objects.get().first_name == "Ada"


def test_an_expired_token_shows_the_failure_page_with_a_retry_link(client, emulator, ada) -> None:
    token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    response = login_with(client, token, "/private/")
    assert response.status_code == 401
    assert response["Referrer-Policy"] == "no-referrer"
    body = response.content.decode()
    assert "This login link has expired." in body
    assert 'href="/login/?next=%2Fprivate%2F"' in body
    assert token not in body and token.split(".")[2] not in body


@pytest.mark.parametrize("where", ["login view", "token anywhere"])
def test_a_refused_login_leaves_no_token_in_the_address_bar(
    settings, client, emulator, ada, where
) -> None:
    """The refusal is a redirect: the failure page is shown at a URL without the token."""
    settings.AUTHROCKET_TOKEN_ANYWHERE = where == "token anywhere"
    path = "/login/" if where == "login view" else "/public/"
    token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)

    response = client.get(path, {"token": token, "next": "/private/"}, follow=True)

    [(location, status)] = response.redirect_chain
    assert status == 303
    assert location.startswith("/login/failed/?")
    address_bar = response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"]
    assert "token" not in address_bar and token.split(".")[2] not in address_bar
    assert response.status_code == 401
    assert "This login link has expired." in response.content.decode()
    back = "/private/" if where == "login view" else "/public/?next=%2Fprivate%2F"  # same page
    assert f'href="/login/?{urlencode({"next": back})}"' in response.content.decode()


def test_a_token_signed_with_a_foreign_key_is_refused(client, emulator, ada) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = emulator.mint_token(ada["id"], key=foreign)
    response = login_with(client, token)
    assert response.status_code == 401
    assert "_auth_user_id" not in client.session


def test_a_malformed_token_is_refused_and_never_logged(client, caplog, emulator) -> None:
    token = "not.a.jwt-but-secret-looking-" + "x" * 40
    response = login_with(client, token)
    assert response.status_code == 401
    assert "secret-looking" not in caplog.text


def test_login_max_age_demands_a_fresh_login(client, settings, emulator, ada) -> None:
    settings.AUTHROCKET_LOGIN_MAX_AGE = 60
    import time

    token = emulator.mint_token(ada["id"], issued_at=int(time.time()) - 600, ttl=3600)
    response = login_with(client, token)
    assert response.status_code == 401
    assert b"too old" in response.content


def test_an_inactive_local_user_cannot_log_in(client, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    User.objects.update(is_active=False)
    other = Client()
    response = login_with(other, emulator.mint_token(ada["id"]))
    assert response.status_code == 401
    assert b"disabled" in response.content


def test_no_new_users_when_creation_is_off(client, settings, emulator, ada) -> None:
    settings.AUTHROCKET_CREATE_USERS = False
    response = login_with(client, emulator.mint_token(ada["id"]))
    assert response.status_code == 401
    assert not User.objects.exists()


def test_login_accepts_only_get(client) -> None:
    assert client.post("/login/", {"token": "x"}).status_code == 405


def test_five_hundred_mutated_tokens_never_cause_a_server_error(emulator, ada) -> None:
    rng = random.Random(20261125)
    good = emulator.mint_token(ada["id"])
    alphabet = "ABCxyz019-_.=+/ %\u00e9\x00"
    client = Client()
    for _ in range(500):
        chars = list(good)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            i = rng.randrange(len(chars))
            if op < 0.4:
                chars[i] = rng.choice(alphabet)
            elif op < 0.7:
                del chars[i]
            else:
                chars.insert(i, rng.choice(alphabet))
        token = "".join(chars)
        if rng.random() < 0.05:
            token = token * rng.randint(2, 5)
        response = login_with(client, token)
        assert response.status_code in (302, 401), (response.status_code, token)


# --- query budget -----------------------------------------------------------------------------


def test_a_returning_users_login_with_warm_keys_makes_no_http_call(
    client, emulator, ada, django_assert_max_num_queries
) -> None:
    login_with(Client(), emulator.mint_token(ada["id"]))  # creates the user, warms the keys
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    # Mirror: 1 read + 1 write (last login); memberships: 1 read. Then one transaction (here a
    # savepoint + release, in production BEGIN + COMMIT) holding the new session row (its key
    # checked, then inserted in a savepoint: 4), auth_user.last_login (1) and the
    # AuthRocketLogin upsert (1). Last, the session's save at the response (savepoint + update
    # + release).
    with django_assert_max_num_queries(14):
        response = login_with(client, token)
    assert response.status_code == 302
    assert emulator.requests == []


# --- logout -----------------------------------------------------------------------------------


def test_logout_ends_both_sessions_at_loginrocket(client, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    session_id = authrocket_session_id(client)
    response = client.post("/logout/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{emulator.loginrocket_url}/logout?")
    query = query_of(location)
    assert query["session"] == [session_id]
    assert query["redirect_uri"] == ["http://testserver/public/"]
    assert "_auth_user_id" not in client.session
    assert client.get("/private/").status_code == 302

    # Following the redirect ends the session at (emulated) LoginRocket and comes back.
    ended = requests.get(location, allow_redirects=False, timeout=5)
    assert ended.status_code == 302 and ended.headers["Location"] == "http://testserver/public/"
    assert (
        requests.get(
            f"{emulator.api_url()}/sessions/{session_id}",
            headers={"Authrocket-Api-Key": emulator.api_key, "Accept": "application/json"},
            timeout=5,
        ).status_code
        == 404
    )


def test_logout_by_get_is_refused_unless_enabled(client, settings, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    assert client.get("/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    settings.AUTHROCKET_LOGOUT_ALLOW_GET = True
    assert client.get("/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_logout_requires_the_csrf_token(emulator, ada) -> None:
    client = Client(enforce_csrf_checks=True)
    login_with(client, emulator.mint_token(ada["id"]))
    assert client.post("/logout/").status_code == 403


def test_logout_when_not_logged_in_just_redirects(client) -> None:
    response = client.post("/logout/")
    assert response["Location"] == "/public/"


def test_logout_can_revoke_the_session_through_the_api(client, settings, emulator, ada) -> None:
    settings.AUTHROCKET_LOGOUT_REVOKE = True
    login_with(client, emulator.mint_token(ada["id"]))
    session_id = authrocket_session_id(client)
    client.post("/logout/")
    assert emulator.count_requests(f"/api/v2/sessions/{session_id}", method="DELETE") == 1


def test_a_failed_revoke_does_not_block_the_logout(client, settings, emulator, ada, caplog) -> None:
    settings.AUTHROCKET_LOGOUT_REVOKE = True
    settings.AUTHROCKET_HTTP_RETRIES = 0
    login_with(client, emulator.mint_token(ada["id"]))
    emulator.inject_fault("/api/v2/sessions/*", method="DELETE", status=503, times=None)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert "Could not revoke" in caplog.text


def test_logout_honours_a_safe_next(client, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))
    response = client.post("/logout/", {"next": "/private/"})
    assert query_of(response["Location"])["redirect_uri"] == ["http://testserver/private/"]


# --- other LoginRocket pages ------------------------------------------------------------------


def test_signup_profile_and_accounts_redirect_to_loginrocket(client, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))

    signup = client.get("/signup/", {"next": "/private/"})["Location"]
    assert signup.startswith(f"{emulator.loginrocket_url}/signup?")
    assert query_of(signup)["redirect_uri"] == ["http://testserver/login/?next=%2Fprivate%2F"]

    profile = client.get("/profile/")["Location"]
    assert profile.startswith(f"{emulator.loginrocket_url}/profile?")
    assert "session" not in query_of(profile)  # LoginRocket's own cookie says who (see views)

    accounts = client.get("/accounts/org_123/", {"force": "1"})["Location"]
    assert accounts.startswith(f"{emulator.loginrocket_url}/accounts/org_123?")
    assert query_of(accounts)["force"] == ["1"]
    assert "session" not in query_of(accounts)


@pytest.mark.parametrize("view", ["/signup/", "/profile/", "/accounts/", "/accounts/org_123/"])
def test_every_journey_to_loginrocket_sends_no_referer(view) -> None:
    """The page the person was on (its query string too) is not LoginRocket's to read."""
    response = Client().get(view, {"next": "/private/?q=secret"})
    assert response.status_code == 302
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "org_id",
    [
        "x%3Fredirect_uri=https%253A%252F%252Fevil.example%252F%26junk=",
        "x%23",
        "x%2Fsignup",
        "x" * 65,
    ],
    ids=["a query of its own", "a fragment", "another page", "too long"],
)
def test_an_org_id_that_is_not_an_id_is_a_404_not_a_loginrocket_url(client, org_id) -> None:
    """The account switcher puts the org id in LoginRocket's path: one that would add query
    parameters (another redirect_uri), cut them off or name another page is not an id."""
    response = client.get(f"/accounts/{org_id}/")
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_returning_login_commits_no_more_often_than_auth_login(client, emulator, ada) -> None:
    """The mirror's last login time is written inside the login's own transaction: every write
    of a returning person's login is in one of two transactions (the login, then the session
    saved with the answer), where a bare ``auth.login()`` in autocommit commits three times
    (the new session, last_login, the session saved)."""
    from django.db import connection

    login_with(Client(), emulator.mint_token(ada["id"]))  # the first login
    before = AuthRocketUser.objects.get(authrocket_id=ada["id"]).last_login_at
    # Each write, and its outermost transaction's Atomic object: held here, so that two
    # transactions can never share an id() after the first one's object is freed.
    writes: list[tuple[str, object | None]] = []

    def note(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            blocks = connection.atomic_blocks
            writes.append((sql, blocks[0] if connection.in_atomic_block else None))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        response = login_with(client, emulator.mint_token(ada["id"]))

    assert response.status_code == 302
    assert [sql for sql, block in writes if block is None] == []  # no write in autocommit
    assert len({id(block) for _, block in writes}) == 2
    mirror = [sql for sql, _ in writes if "authrocketuser" in sql]
    assert len(mirror) == 1 and "last_login_at" in mirror[0]
    row = AuthRocketUser.objects.get(authrocket_id=ada["id"])
    assert row.last_login_at > before


@pytest.mark.django_db(transaction=True)
def test_a_first_login_writes_its_mirror_row_once(client, emulator, ada) -> None:
    """The new mirror row carries the login time: no second write of it in the same login."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = login_with(client, emulator.mint_token(ada["id"]))

    assert response.status_code == 302
    mirror = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split(None, 1)[0] in ("INSERT", "UPDATE") and "authrocketuser" in q["sql"]
    ]
    assert len(mirror) == 1 and mirror[0].startswith("INSERT")
    assert AuthRocketUser.objects.get(authrocket_id=ada["id"]).last_login_at is not None
