"""The AuthRocket emulator, exercised over real HTTP the way the app and its users use it."""

from __future__ import annotations

import base64
import concurrent.futures
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from django_authrocket.testing import AuthRocketEmulator, Fault

APP_LOGIN = "https://app.example/login?next=%2Fprivate"


@pytest.fixture(scope="module")
def login_urls() -> tuple[str, ...]:
    return ("https://app.example/", "http://localhost:8000/")


def http_session() -> requests.Session:
    """A client that ignores proxy variables: the emulator is on loopback."""
    session = requests.Session()
    session.trust_env = False
    return session


def v2_headers(emu: AuthRocketEmulator) -> dict[str, str]:
    return {"Authrocket-Api-Key": emu.api_key, "Accept": "application/json"}


def v1_headers(emu: AuthRocketEmulator) -> dict[str, str]:
    return {"X-Authrocket-Api-Key": emu.api_key, "Accept": "application/json"}


def api_get(http: requests.Session, emu: AuthRocketEmulator, path: str, **params: Any) -> Any:
    response = http.get(emu.api_url() + path, headers=v2_headers(emu), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def member_of_two_orgs(emu: AuthRocketEmulator) -> tuple[dict[str, Any], dict[str, Any]]:
    user = emu.create_user(
        "Ada@Example.com", first_name="Ada", last_name="Lovelace", username="ada"
    )
    engines = emu.create_org("Engines", reference="eng", custom={"tier": "gold"})
    other = emu.create_org("Other")
    emu.create_membership(user["id"], other["id"], permissions=["billing:read"])
    emu.create_membership(user["id"], engines["id"], permissions=["ar:admin"], selected=True)
    return user, engines


# -- keys and tokens -------------------------------------------------------------------------------


def test_jwks_publishes_the_current_key_with_a_bare_spki_in_x5c(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    document = http.get(emu.url + "/connect/jwks").json()

    assert document == emu.jwks
    entry = document["keys"][0]  # the current key first (other tests may have rotated)
    assert entry["kty"] == "RSA"
    assert entry["alg"] == "RS256"
    assert entry["use"] == "sig"
    assert entry["kid"] == emu.current_kid
    der = base64.b64decode(entry["x5c"][0])
    public_key = serialization.load_der_public_key(der)
    assert (
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        == emu.public_key_pem
    )
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(der)  # a key, not a certificate
    assert isinstance(public_key, rsa.RSAPublicKey)
    n = int.from_bytes(base64.urlsafe_b64decode(entry["n"] + "=="), "big")
    assert n == public_key.public_numbers().n
    assert public_key.key_size == 2048


def test_ar2_token_carries_the_authrocket_2_claims_and_the_kid(emu: AuthRocketEmulator) -> None:
    user, engines = member_of_two_orgs(emu)

    session, token = emu.login(user["id"])

    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "typ": "JWT",
        "kid": emu.current_kid,
    }
    claims = jwt.decode(
        token, emu.public_key_pem, algorithms=["RS256"], issuer="https://authrocket.com"
    )
    assert claims["sub"] == user["id"]
    assert claims["sid"] == session["id"]
    assert session["id"].startswith("kss_")
    assert claims["rid"] == emu.realm_id
    assert claims["email"] == "ada@example.com"
    assert claims["email_verified"] is True
    assert (claims["name"], claims["given_name"], claims["family_name"]) == (
        "Ada Lovelace",
        "Ada",
        "Lovelace",
    )
    assert claims["preferred_username"] == "ada"
    assert claims["exp"] - claims["iat"] == 3600
    [selected] = claims["orgs"]  # the selected org only, as LoginRocket sends (the default)
    assert selected["selected"] is True
    assert selected["oid"] == engines["id"]
    assert selected["mid"].startswith("mb_")
    assert selected["name"] == "Engines"
    assert selected["perm"] == ["ar:admin"]
    assert selected["ref"] == "eng"
    assert selected["cs"] == {"tier": "gold"}


@pytest.mark.parametrize("token_orgs", ["selected", "all"])
def test_org_id_selects_the_org_in_the_token(
    emu: AuthRocketEmulator, http: requests.Session, token_orgs: str
) -> None:
    emu.configure(token_orgs=token_orgs)
    user, engines = member_of_two_orgs(emu)
    memberships = api_get(http, emu, "/memberships", user_id=user["id"])["collection"]
    other_id = next(m["org_id"] for m in memberships if m["org_id"] != engines["id"])

    token = emu.mint_token(user["id"], org_id=other_id)

    claims = jwt.decode(token, emu.public_key_pem, algorithms=["RS256"])
    assert [org["oid"] for org in claims["orgs"] if org["selected"]] == [other_id]
    assert len(claims["orgs"]) == (2 if token_orgs == "all" else 1)


@pytest.mark.parametrize("generation", [2, 1])
def test_token_orgs_gives_every_org_the_selected_one_or_none(
    emu: AuthRocketEmulator, http: requests.Session, generation: int
) -> None:
    user, engines = member_of_two_orgs(emu)
    claim = "orgs" if generation == 2 else "m"
    key = emu.public_key_pem if generation == 2 else emu.jwt_secret
    seen = {}
    for shape in ("all", "selected", "none"):
        emu.configure(token_orgs=shape)
        session, token = emu.login(user["id"], generation=generation)
        audience = {"audience": emu.realm_id} if generation == 1 else {}
        claims = jwt.decode(token, key, algorithms=["RS256", "HS256"], **audience)
        seen[shape] = sorted(org["oid"] for org in claims.get(claim, []))
        if shape == "none":
            assert claim not in claims
        # Get Session's token field follows the same realm setting.
        answer = api_get(http, emu, f"/sessions/{session['id']}")
        if generation == 2:
            inner = jwt.decode(answer["token"], key, algorithms=["RS256"])
            assert sorted(org["oid"] for org in inner.get("orgs", [])) == seen[shape]

    assert len(seen["all"]) == 2 and engines["id"] in seen["all"]
    assert seen["selected"] == [engines["id"]]
    assert seen["none"] == []


def test_ar2_token_of_a_user_without_memberships_has_no_orgs_claim(emu: AuthRocketEmulator) -> None:
    user = emu.create_user("solo@example.com")

    claims = jwt.decode(emu.mint_token(user["id"]), emu.public_key_pem, algorithms=["RS256"])

    assert "orgs" not in claims
    assert claims["name"] == "solo@example.com"  # name is always set


def test_ar1_token_has_short_claims_the_realm_as_audience_and_hs256(
    emu: AuthRocketEmulator,
) -> None:
    user, engines = member_of_two_orgs(emu)

    token = emu.mint_token(user["id"], generation=1)

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, emu.jwt_secret, algorithms=["HS256"], audience=emu.realm_id)
    assert "iss" not in claims
    assert claims["uid"] == user["id"]
    assert claims["tk"].startswith("kss_")
    assert (claims["un"], claims["fn"], claims["ln"], claims["n"]) == (
        "ada",
        "Ada",
        "Lovelace",
        "Ada Lovelace",
    )
    assert {
        "oid": engines["id"],
        "o": "Engines",
        "p": ["ar:admin"],
        "ocs": {"tier": "gold"},
    } in claims["m"]


def test_hs256_emulator_signs_ar2_tokens_with_its_secret_and_no_kid() -> None:
    emu = AuthRocketEmulator(
        algorithm="HS256", jwt_secret="jsk_test_secret_that_is_long_enough_for_hs256"
    )
    user = emu.create_user("h@example.com")

    token = emu.mint_token(user["id"])

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert (
        jwt.decode(token, "jsk_test_secret_that_is_long_enough_for_hs256", algorithms=["HS256"])[
            "sub"
        ]
        == user["id"]
    )


def test_default_secret_and_api_key_look_like_authrocket_ones() -> None:
    emu = AuthRocketEmulator()

    assert emu.jwt_secret.startswith("jsk_")
    assert len(emu.jwt_secret) == 44
    assert emu.api_key.startswith("ks_emulator_")
    assert AuthRocketEmulator().jwt_secret != emu.jwt_secret


def test_mint_token_merges_claims_drops_claims_and_forges_headers(emu: AuthRocketEmulator) -> None:
    user = emu.create_user("x@example.com")

    token = emu.mint_token(
        user["id"],
        claims={"iss": "https://evil.example", "extra": 1},
        drop_claims=["email"],
        headers={"alg": "HS256", "typ": None},
        kid="kid_other",
        ttl=10,
        issued_at=1_000,
    )

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "kid_other"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["extra"], claims["iat"], claims["exp"]) == (
        "https://evil.example",
        1,
        1_000,
        1_010,
    )
    assert "email" not in claims
    with pytest.raises(jwt.InvalidSignatureError):  # still RS256-signed despite the header
        jwt.decode(token, emu.jwt_secret, algorithms=["HS256"], options={"verify_exp": False})


def test_mint_token_with_a_foreign_key_keeps_the_emulator_kid_but_fails_verification(
    emu: AuthRocketEmulator,
) -> None:
    user = emu.create_user("x@example.com")
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    token = emu.mint_token(user["id"], key=foreign)

    assert jwt.get_unverified_header(token)["kid"] == emu.current_kid
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, emu.public_key_pem, algorithms=["RS256"])
    assert jwt.decode(token, foreign.public_key(), algorithms=["RS256"])["sub"] == user["id"]


def test_mint_token_can_sign_with_alg_none(emu: AuthRocketEmulator) -> None:
    token = emu.mint_token(emu.create_user()["id"], algorithm="none")

    assert token.endswith(".")
    assert jwt.get_unverified_header(token)["alg"] == "none"


def test_mint_token_without_user_makes_one_up(emu: AuthRocketEmulator) -> None:
    claims = jwt.decode(emu.mint_token(), emu.public_key_pem, algorithms=["RS256"])

    assert emu.get_user(claims["sub"])["email"] == claims["email"]


def test_token_expiry_is_capped_at_the_end_of_its_session(emu: AuthRocketEmulator) -> None:
    user = emu.create_user()
    session = emu.create_session(user["id"], ttl=60)

    claims = jwt.decode(
        emu.mint_token(session_id=session["id"]), emu.public_key_pem, algorithms=["RS256"]
    )

    assert claims["exp"] == session["expires_at"]


def test_rotation_keeps_the_previous_key_published_when_asked(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    old_kid = emu.current_kid
    old_token = emu.mint_token(emu.create_user()["id"])

    new_kid = emu.rotate_keys(keep_previous=True)

    kids = [key["kid"] for key in http.get(emu.url + "/connect/jwks").json()["keys"]]
    assert kids == [new_kid, old_kid]
    assert new_kid == emu.current_kid != old_kid
    assert jwt.get_unverified_header(emu.mint_token(emu.create_user()["id"]))["kid"] == new_kid
    response = http.get(emu.api_url() + "/sessions/" + old_token, headers=v2_headers(emu))
    assert response.status_code == 200  # tokens of the old key still verify


def test_rotation_without_keep_previous_publishes_only_the_new_key(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    old_token = emu.mint_token(emu.create_user()["id"])

    new_kid = emu.rotate_keys(keep_previous=False)

    assert [key["kid"] for key in http.get(emu.url + "/connect/jwks").json()["keys"]] == [new_kid]
    response = http.get(emu.api_url() + "/sessions/" + old_token, headers=v2_headers(emu))
    assert response.status_code == 404


# -- settings --------------------------------------------------------------------------------------


def test_settings_point_the_app_at_the_emulator_in_jwks_mode(emu: AuthRocketEmulator) -> None:
    assert emu.url.startswith("http://127.0.0.1:")
    assert not emu.url.endswith("/")
    assert emu.settings() == {
        "AUTHROCKET_LOGINROCKET_URL": emu.url,
        "AUTHROCKET_URL": emu.url + "/api/v2",
        "AUTHROCKET_API_KEY": emu.api_key,
        "AUTHROCKET_REALM": "rl_emulator",
        "AUTHROCKET_VERIFY": "jwt",
        "AUTHROCKET_JWT_KEY": None,
        "AUTHROCKET_ACCEPT_EMULATOR_TOKENS": True,
    }
    v1 = emu.settings(1, verify="api", static_key=True)
    assert v1["AUTHROCKET_URL"] == emu.url + "/api/v1"
    assert v1["AUTHROCKET_VERIFY"] == "api"
    assert v1["AUTHROCKET_JWT_KEY"] == emu.public_key_pem
    assert emu.loginrocket_url == emu.url


def test_settings_of_an_hs256_emulator_carry_the_secret() -> None:
    emu = AuthRocketEmulator(algorithm="HS256", port=0).start()
    try:
        assert emu.settings()["AUTHROCKET_JWT_KEY"] == emu.jwt_secret
    finally:
        emu.stop()


def test_url_before_start_explains_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = AuthRocketEmulator().url


# -- LoginRocket pages -----------------------------------------------------------------------------


def test_login_page_lists_users_as_buttons_and_escapes_what_it_echoes(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.create_user("mallory@example.com", name="<script>alert(1)</script>")
    emu.create_user("ada@example.com", first_name="Ada")

    page = http.get(emu.url + "/login", params={"redirect_uri": APP_LOGIN + '&x="><b>'})

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&quot;&gt;&lt;b&gt;" in page.text
    assert "ada@example.com" in page.text
    assert 'name=user_id value="usr_' in page.text


def test_choosing_a_user_redirects_with_the_token_appended_to_the_existing_query(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user("ada@example.com")

    response = http.post(
        emu.url + "/login",
        data={"redirect_uri": APP_LOGIN, "user_id": user["id"]},
        allow_redirects=False,
    )

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example", "/login")
    query = parse_qs(location.query)
    assert query["next"] == ["/private"]
    [token] = query["token"]
    claims = jwt.decode(token, emu.public_key_pem, algorithms=["RS256"])
    assert claims["sub"] == user["id"]
    assert emu.get_user(user["id"])["last_login_at"] is not None


def test_token_is_appended_with_a_question_mark_when_redirect_uri_has_no_query(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()

    response = http.post(
        emu.url + "/login",
        data={"redirect_uri": "http://localhost:8000/login/", "user_id": user["id"]},
        allow_redirects=False,
    )

    assert response.headers["Location"].startswith("http://localhost:8000/login/?token=ey")


def test_login_form_creates_a_user_from_a_new_email(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    response = http.post(
        emu.url + "/login",
        data={"redirect_uri": APP_LOGIN, "email": "New@Example.com", "first_name": "Nia"},
        allow_redirects=False,
    )

    assert response.status_code == 302
    user = emu.get_user("new@example.com")
    assert user["first_name"] == "Nia"
    assert [e["event_type"] for e in emu.events][:2] == ["user.created", "user.login.succeeded"]


def test_login_refuses_a_redirect_uri_that_is_not_an_absolute_http_url(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    for bad in ("/relative", "javascript:alert(1)", "ftp://x.example/", "//app.example/login"):
        response = http.get(emu.url + "/login", params={"redirect_uri": bad})
        assert response.status_code == 400, bad
        assert "redirect_uri" in response.text


def test_a_second_visit_to_login_logs_straight_in_unless_prompt_is_login(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()
    first = http.post(
        emu.url + "/login",
        data={"redirect_uri": APP_LOGIN, "user_id": user["id"]},
        allow_redirects=False,
    )
    first_sid = jwt.decode(
        parse_qs(urlsplit(first.headers["Location"]).query)["token"][0],
        options={"verify_signature": False},
    )["sid"]

    again = http.get(emu.url + "/login", params={"redirect_uri": APP_LOGIN}, allow_redirects=False)
    forced = http.get(
        emu.url + "/login",
        params={"redirect_uri": APP_LOGIN, "prompt": "login"},
        allow_redirects=False,
    )

    assert again.status_code == 302
    token = parse_qs(urlsplit(again.headers["Location"]).query)["token"][0]
    assert jwt.decode(token, options={"verify_signature": False})["sid"] == first_sid
    assert forced.status_code == 200


def _cached_logins(emu: AuthRocketEmulator, http: requests.Session) -> tuple[str, str, str]:
    """A login, then two visits of the same browser LoginRocket knows: their three tokens."""
    user = emu.create_user()
    first = http.post(
        emu.url + "/login",
        data={"redirect_uri": APP_LOGIN, "user_id": user["id"]},
        allow_redirects=False,
    )
    tokens = [parse_qs(urlsplit(first.headers["Location"]).query)["token"][0]]
    for _ in range(2):
        again = http.get(
            emu.url + "/login", params={"redirect_uri": APP_LOGIN}, allow_redirects=False
        )
        tokens.append(parse_qs(urlsplit(again.headers["Location"]).query)["token"][0])
    return tokens[0], tokens[1], tokens[2]


def test_a_cached_session_gets_a_new_token_at_every_visit_by_default(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    first, second, third = _cached_logins(emu, http)  # within one second, most likely
    assert len({first, second, third}) == 3
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in (first, second, third)]
    assert len({c["sid"] for c in claims}) == 1
    assert claims[0]["iat"] < claims[1]["iat"] < claims[2]["iat"]


def test_a_cached_session_gets_the_same_token_again_when_the_realm_reissues(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.configure(cached_login_token="same")
    first, second, third = _cached_logins(emu, http)
    assert first == second == third


def test_signup_creates_the_user_and_redirects_with_a_token(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    page = http.get(emu.url + "/signup", params={"redirect_uri": APP_LOGIN, "invitation": "inv_1"})
    assert page.status_code == 200
    assert 'value="inv_1"' in page.text

    response = http.post(
        emu.url + "/signup",
        data={"redirect_uri": APP_LOGIN, "email": "sam@example.com", "last_name": "Sam"},
        allow_redirects=False,
    )

    assert response.status_code == 302
    assert "token=" in response.headers["Location"]
    assert emu.get_user("sam@example.com")["name"] == "Sam"


def test_signup_with_a_taken_email_shows_the_form_again_with_the_error(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.create_user("sam@example.com")

    response = http.post(
        emu.url + "/signup", data={"redirect_uri": APP_LOGIN, "email": "SAM@example.com"}
    )

    assert response.status_code == 422
    assert "already been taken" in response.text


def test_logout_ends_the_session_and_redirects(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, _ = emu.login(emu.create_user()["id"])

    response = http.get(
        emu.url + "/logout",
        params={"session": session["id"], "redirect_uri": "https://app.example/bye"},
        allow_redirects=False,
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "https://app.example/bye"
    lookup = http.get(emu.api_url() + "/sessions/" + session["id"], headers=v2_headers(emu))
    assert lookup.status_code == 404
    assert [e["event_type"] for e in emu.events][-1] == "session.deleted"


def test_logout_without_redirect_uri_shows_the_login_page(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, _ = emu.login(emu.create_user()["id"])

    response = http.get(emu.url + "/logout", params={"session": session["id"]})

    assert response.status_code == 200
    assert "<h1>Log in</h1>" in response.text
    assert emu.end_session(session["id"]) is False  # already ended


def test_profile_and_accounts_pages_link_back_to_the_app(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user, engines = member_of_two_orgs(emu)
    session, _ = emu.login(user["id"])
    params = {"redirect_uri": "https://app.example/", "session": session["id"]}

    profile = http.get(emu.url + "/profile", params=params)
    accounts = http.get(emu.url + "/accounts", params=params)
    one = http.get(emu.url + f"/accounts/{engines['id']}", params=params)

    for page in (profile, accounts, one):
        assert page.status_code == 200
        assert 'href="https://app.example/"' in page.text
    assert "ada@example.com" in profile.text
    assert "Engines" in accounts.text
    assert "Other" in accounts.text
    assert "Other" not in one.text


# -- Core API: auth and negotiation ----------------------------------------------------------------


#: AuthRocket 2's session object (authrocket.com/docs/api/sessions, "Fields").
#: The emulator's marker rides on every answer (sites refuse it outside tests); not a field of
#: AuthRocket's, so the shape checks below leave it out.
MARKER = {"emu"}

DOCUMENTED_SESSION_FIELDS = {
    "object",
    "id",
    "client_app_id",
    "created_at",
    "expires_at",
    "token",
    "user_id",
    "request",
}


def test_get_session_answers_the_documented_fields_and_no_embedded_user(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user, engines = member_of_two_orgs(emu)
    session, _ = emu.login(user["id"])

    body = api_get(http, emu, "/sessions/" + session["id"])

    assert set(body) - MARKER == DOCUMENTED_SESSION_FIELDS
    assert body["object"] == "session"
    assert body["id"] == session["id"]
    assert body["user_id"] == user["id"]
    assert isinstance(body["created_at"], float)
    assert body["expires_at"] > time.time()
    # token: "Full login (JWT) token" of the session, signed with the realm's key.
    claims = jwt.decode(
        body["token"], emu.public_key_pem, algorithms=["RS256"], issuer="https://authrocket.com"
    )
    assert (claims["sid"], claims["sub"]) == (session["id"], user["id"])
    assert [org["oid"] for org in claims["orgs"] if org["selected"]] == [engines["id"]]


def test_get_session_by_token_answers_with_that_token(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, token = emu.login(emu.create_user()["id"])

    body = api_get(http, emu, "/sessions/" + token)

    assert body["id"] == session["id"] and body["token"] == token


def test_get_session_without_token_leaves_the_token_out(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.configure(session_answer="without_token")
    session, token = emu.login(emu.create_user()["id"])

    for id_or_token in (session["id"], token):
        assert set(api_get(http, emu, "/sessions/" + id_or_token)) - MARKER == (
            DOCUMENTED_SESSION_FIELDS - {"token"}
        )


def test_get_session_embeds_the_user_with_memberships_and_orgs_when_asked(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.configure(session_answer="embedded_user")  # AuthRocket 1's shape, for older sites
    user, engines = member_of_two_orgs(emu)
    session, _ = emu.login(user["id"])

    body = api_get(http, emu, "/sessions/" + session["id"])

    assert set(body) - MARKER == DOCUMENTED_SESSION_FIELDS | {"user"}
    assert body["user"]["object"] == "user"
    assert body["user"]["email"] == "ada@example.com"
    [selected] = [m for m in body["user"]["memberships"] if m["selected"]]
    assert selected["org"]["id"] == engines["id"]
    assert selected["org"]["object"] == "org"
    assert selected["permissions"] == ["ar:admin"]


def test_get_session_for_an_expired_token_is_404_unless_the_realm_looks_up_its_session(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, _ = emu.login(emu.create_user()["id"])
    expired = emu.mint_token(session_id=session["id"], issued_at=int(time.time()) - 120, ttl=60)
    url = emu.api_url() + "/sessions/" + expired

    assert http.get(url, headers=v2_headers(emu)).status_code == 404
    emu.configure(expired_token_lookup="session")
    answer = http.get(url, headers=v2_headers(emu))
    assert answer.status_code == 200 and answer.json()["id"] == session["id"]


def test_realm_options_refuse_unknown_names_and_values_and_reset_puts_them_back(
    emu: AuthRocketEmulator,
) -> None:
    with pytest.raises(AttributeError, match="no realm option"):
        emu.configure(session_shape="documented")
    with pytest.raises(ValueError, match="session_answer"):
        emu.configure(session_answer="embedded")
    emu.configure(session_answer="without_token", jwks_shape="minimal")
    emu.reset()
    assert (emu.options.session_answer, emu.options.jwks_shape) == ("documented", "full")


def test_jwks_of_kid_alg_and_x5c_only_when_asked(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.configure(jwks_shape="minimal")  # what the official libraries read, nothing more

    document = http.get(emu.url + "/connect/jwks").json()

    assert document == emu.jwks
    assert [set(entry) for entry in document["keys"]] == [{"kid", "alg", "x5c"}] * len(
        document["keys"]
    )
    assert document["keys"][0]["kid"] == emu.current_kid


def test_memberships_listed_by_user_include_their_orgs(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    # authrocket.com/docs/api/memberships: "Querying for a user_id will include the
    # associated org records ... for both org_id and user_id will not".
    user, engines = member_of_two_orgs(emu)

    by_user = api_get(http, emu, "/memberships", user_id=user["id"])["collection"]
    by_both = api_get(http, emu, "/memberships", user_id=user["id"], org_id=engines["id"])

    assert sorted(m["org"]["name"] for m in by_user) == ["Engines", "Other"]
    assert [set(m) & {"org"} for m in by_both["collection"]] == [set()]


def test_get_session_accepts_the_login_token_in_place_of_the_id(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, token = emu.login(emu.create_user()["id"])
    _, ar1_token = emu.login(emu.create_user()["id"], generation=1)

    assert api_get(http, emu, "/sessions/" + token)["id"] == session["id"]
    assert api_get(http, emu, "/sessions/" + ar1_token)["id"].startswith("kss_")


def test_get_session_is_404_once_the_session_ended_or_for_a_forged_token(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()
    session, token = emu.login(user["id"])
    forged = emu.mint_token(
        session_id=session["id"], key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    url = emu.api_url() + "/sessions/"

    assert http.get(url + forged, headers=v2_headers(emu)).status_code == 404
    assert emu.end_session(session["id"]) is True

    for id_or_token in (session["id"], token, "kss_unknown"):
        response = http.get(url + id_or_token, headers=v2_headers(emu))
        assert response.status_code == 404
        assert response.json() == {"errors": ["Session not found"]}


def test_expired_session_is_not_found(emu: AuthRocketEmulator, http: requests.Session) -> None:
    session = emu.create_session(emu.create_user()["id"], ttl=-1)

    response = http.get(emu.api_url() + "/sessions/" + session["id"], headers=v2_headers(emu))

    assert response.status_code == 404


def test_delete_session_answers_204_then_the_session_is_gone(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, _ = emu.login(emu.create_user()["id"])
    url = emu.api_url() + "/sessions/" + session["id"]

    deleted = http.delete(url, headers=v2_headers(emu))

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert http.get(url, headers=v2_headers(emu)).status_code == 404
    assert http.delete(url, headers=v2_headers(emu)).status_code == 404


def test_end_user_sessions_ends_them_all(emu: AuthRocketEmulator, http: requests.Session) -> None:
    user = emu.create_user()
    ids = {emu.login(user["id"])[0]["id"] for _ in range(3)}

    listed = api_get(http, emu, "/sessions", user_id=user["id"])["collection"]
    assert {s["id"] for s in listed} == ids

    assert set(emu.end_user_sessions(user["id"])) == ids
    assert api_get(http, emu, "/sessions", user_id=user["id"])["collection"] == []


def test_v1_uses_x_authrocket_headers_and_the_v1_user_shape(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    session, _ = emu.login(emu.create_user()["id"])
    v1_url = emu.api_url(1) + "/sessions/" + session["id"]

    ok = http.get(v1_url, headers={**v1_headers(emu), "X-Authrocket-Realm": emu.realm_id})
    with_v2_header = http.get(v1_url, headers=v2_headers(emu))
    v2_with_v1_header = http.get(
        emu.api_url(2) + "/sessions/" + session["id"], headers=v1_headers(emu)
    )

    assert ok.status_code == 200
    assert ok.json()["user"]["user_type"] == "human"  # AuthRocket 1 embeds the user
    assert "memberships" in ok.json()["user"]
    assert ok.json()["user"]["name"]
    assert "client_app_id" not in ok.json()
    assert with_v2_header.status_code == 403
    assert v2_with_v1_header.status_code == 403


def test_v2_accepts_a_bearer_api_key_with_an_optional_realm(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    url = emu.api_url() + "/users"

    def status(authorization: str) -> int:
        headers = {"Authorization": authorization, "Accept": "application/json"}
        return http.get(url, headers=headers).status_code

    assert status(f"Bearer {emu.api_key}") == 200
    assert status(f"Bearer {emu.api_key},{emu.realm_id}") == 200
    assert status(f"Bearer {emu.api_key},rl_other") == 403
    assert status("Bearer ks_wrong") == 403


def test_missing_or_wrong_api_key_is_403_with_an_errors_body(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    for headers in (
        {"Accept": "application/json"},
        {"Accept": "application/json", "Authrocket-Api-Key": "ks_wrong"},
        {**v2_headers(emu), "Authrocket-Realm": "rl_someone_else"},
    ):
        response = http.get(emu.api_url() + "/users", headers=headers)
        assert response.status_code == 403
        assert response.headers["Content-Type"].startswith("application/json")
        [message] = response.json()["errors"]
        assert message


def test_a_request_without_accept_json_is_406(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    for accept in ("*/*", "text/html", None):
        headers = {"Authrocket-Api-Key": emu.api_key}
        if accept:
            headers["Accept"] = accept
        response = http.get(emu.api_url() + "/users", headers=headers)
        assert response.status_code == 406, accept
        assert "errors" in response.json()
    negotiated = {"Authrocket-Api-Key": emu.api_key, "Accept": "application/json; charset=utf-8"}
    assert http.get(emu.api_url() + "/users", headers=negotiated).status_code == 200


def test_every_response_carries_a_request_id(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    responses = [
        http.get(emu.url + "/connect/jwks"),
        http.get(emu.url + "/login"),
        http.get(emu.api_url() + "/users", headers=v2_headers(emu)),
        http.get(emu.api_url() + "/users"),
        http.get(emu.api_url() + "/nowhere", headers=v2_headers(emu)),
    ]

    ids = [response.headers["X-Request-ID"] for response in responses]
    assert all(request_id.startswith("rq_") for request_id in ids)
    assert len(set(ids)) == len(ids)
    assert [r.request_id for r in emu.requests] == ids


# -- Core API: resources and pagination ------------------------------------------------------------


def test_paging_2500_users_with_after_and_max_results(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    created = [emu.create_user(f"user{i}@example.com")["id"] for i in range(2500)]

    seen: list[str] = []
    pages = []
    after = None
    while True:
        params: dict[str, Any] = {"max_results": 1000}
        if after:
            params["after"] = after
        body = api_get(http, emu, "/users", **params)
        pages.append((len(body["collection"]), body["more_results"]))
        seen += [user["id"] for user in body["collection"]]
        if not body["more_results"]:
            break
        after = body["collection"][-1]["id"]

    assert pages == [(1000, True), (1000, True), (500, False)]
    assert seen == created
    default_page = api_get(http, emu, "/users")
    assert len(default_page["collection"]) == 100
    assert default_page["more_results"] is True


def test_max_results_outside_1_to_1000_is_422(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    for value in ("0", "1001", "-5", "many"):
        response = http.get(
            emu.api_url() + "/users", headers=v2_headers(emu), params={"max_results": value}
        )
        assert response.status_code == 422, value
        assert response.json()["errors"]
    for value in ("1", "1000"):
        assert api_get(http, emu, "/users", max_results=value)["more_results"] is False


def test_users_filter_by_state_and_email(emu: AuthRocketEmulator, http: requests.Session) -> None:
    active = emu.create_user("on@example.com")
    inactive = emu.create_user("off@example.com", state="inactive")

    assert [u["id"] for u in api_get(http, emu, "/users", state="inactive")["collection"]] == [
        inactive["id"]
    ]
    assert [
        u["id"] for u in api_get(http, emu, "/users", email="ON@example.com")["collection"]
    ] == [active["id"]]
    assert api_get(http, emu, "/users", email="nobody@example.com")["collection"] == []


def test_get_user_by_id_or_email(emu: AuthRocketEmulator, http: requests.Session) -> None:
    user = emu.create_user("Grace@Example.com", first_name="Grace", custom={"team": "navy"})

    by_id = api_get(http, emu, "/users/" + user["id"], expand="custom")
    by_email = api_get(http, emu, "/users/grace%40example.com", expand="custom")

    assert by_id == by_email == user
    assert by_id["object"] == "user"
    assert by_id["email"] == "grace@example.com"
    assert by_id["custom"] == {"team": "navy"}
    assert by_id["realm_id"] == emu.realm_id
    assert isinstance(by_id["created_at"], float)
    missing = http.get(emu.api_url() + "/users/usr_missing", headers=v2_headers(emu))
    assert missing.status_code == 404
    assert missing.json() == {"errors": ["User not found"]}


def test_create_user_takes_a_wrapped_body_and_refuses_a_duplicate_email(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    url = emu.api_url() + "/users"

    created = http.post(url, headers=v2_headers(emu), json={"user": {"email": "Lin@example.com"}})
    duplicate = http.post(url, headers=v2_headers(emu), json={"user": {"email": "lin@EXAMPLE.com"}})
    unwrapped = http.post(url, headers=v2_headers(emu), json={"email": "other@example.com"})
    form = http.post(url, headers=v2_headers(emu), data={"user[email]": "form@example.com"})

    assert created.status_code == 201
    assert created.json()["email"] == "lin@example.com"
    assert created.json()["id"].startswith("usr_")
    assert created.json()["name"] == "lin@example.com"
    assert duplicate.status_code == 422
    assert duplicate.json() == {"errors": ["Email has already been taken"]}
    assert unwrapped.status_code == 422
    assert form.status_code == 201


def test_orgs_and_memberships_can_be_listed_and_fetched(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user, engines = member_of_two_orgs(emu)
    emu.create_membership(emu.create_user()["id"], engines["id"])

    orgs = api_get(http, emu, "/orgs")["collection"]
    org = api_get(http, emu, "/orgs/" + engines["id"], expand="custom")
    of_user = api_get(http, emu, "/memberships", user_id=user["id"])["collection"]
    of_org = api_get(http, emu, "/memberships", org_id=engines["id"])["collection"]
    pair = api_get(http, emu, "/memberships", user_id=user["id"], org_id=engines["id"])
    membership = api_get(http, emu, "/memberships/" + pair["collection"][0]["id"])

    assert [o["name"] for o in orgs] == ["Engines", "Other"]
    assert org["object"] == "org"
    assert (org["reference"], org["custom"], org["state"]) == ("eng", {"tier": "gold"}, "active")
    assert len(of_user) == 2
    assert len(of_org) == 2
    assert len(pair["collection"]) == 1
    assert membership["object"] == "membership"
    assert membership["id"].startswith("mb_")
    assert (membership["user_id"], membership["org_id"]) == (user["id"], engines["id"])
    assert membership["permissions"] == ["ar:admin"]
    assert membership["selected"] is True
    assert membership["expires_at"] is None
    assert membership["org"]["name"] == "Engines"


def test_custom_attributes_are_listed_only_when_expanded(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    """AuthRocket's lists leave ``custom`` out unless ``expand=custom`` (docs: List orgs, "expand:
    custom -- Include custom in the response"; the users list documents the same)."""
    user = emu.create_user(custom={"team": "navy"})
    org = emu.create_org("Engines", custom={"tier": "gold"})

    for path, custom in (("/users", {"team": "navy"}), ("/orgs", {"tier": "gold"})):
        [plain] = api_get(http, emu, path)["collection"]
        [expanded] = api_get(http, emu, path, expand="custom")["collection"]
        assert "custom" not in plain
        assert expanded["custom"] == custom
        assert {**plain, "custom": custom} == expanded

    # single reads: undocumented, so a realm option; "expand" (the default) as the lists
    assert "custom" not in api_get(http, emu, "/users/" + user["id"])
    assert "custom" not in api_get(http, emu, "/orgs/" + org["id"])
    emu.configure(custom_on_get="always")
    assert api_get(http, emu, "/users/" + user["id"])["custom"] == {"team": "navy"}
    assert api_get(http, emu, "/orgs/" + org["id"])["custom"] == {"tier": "gold"}
    emu.reset()
    assert emu.options.custom_on_get == "expand"
    with pytest.raises(ValueError, match="custom_on_get"):
        emu.configure(custom_on_get="sometimes")


def test_memberships_are_listed_by_org_with_users_and_by_user_with_orgs(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    """docs/api/memberships: "Querying for an org_id will include the associated user records.
    Querying for a user_id will include the associated org records. Querying for both org_id
    and user_id will not include any associated records"."""
    user, engines = member_of_two_orgs(emu)

    by_org = api_get(http, emu, "/memberships", org_id=engines["id"])["collection"]
    by_user = api_get(http, emu, "/memberships", user_id=user["id"])["collection"]
    both = api_get(http, emu, "/memberships", org_id=engines["id"], user_id=user["id"])

    assert [m["user"]["id"] for m in by_org] == [user["id"]] and "org" not in by_org[0]
    assert by_org[0]["user"]["email"] == "ada@example.com"
    assert {m["org"]["id"] for m in by_user} == {m["org_id"] for m in by_user}
    assert all("user" not in m for m in by_user)
    assert [("user" in m, "org" in m) for m in both["collection"]] == [(False, False)]


def test_an_unfiltered_memberships_listing_is_a_validation_error(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    """AuthRocket documents the listing only "for a user or an org" (docs/api/memberships);
    the answer without either is a realm option: a 422 (default) or an empty list."""
    member_of_two_orgs(emu)
    url = emu.api_url() + "/memberships"

    refused = http.get(url, headers=v2_headers(emu), params={"max_results": 1000})
    emu.configure(unfiltered_memberships="empty")
    empty = api_get(http, emu, "/memberships")

    assert refused.status_code == 422
    assert refused.json() == {"errors": ["Either org_id or user_id is required"]}
    assert empty == {"collection": [], "more_results": False}


def test_updating_and_deleting_realm_data_emits_events(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user, engines = member_of_two_orgs(emu)
    session, _ = emu.login(user["id"])
    emu.clear_requests()
    before = len(emu.events)

    emu.update_user(user["id"], first_name="Augusta", state="inactive")
    emu.update_org(engines["id"], state="closed")
    emu.delete_user(user["id"])

    types = [event["event_type"] for event in emu.events[before:]]
    assert types == [
        "user.updated",
        "org.closed",
        "session.deleted",
        "membership.deleted",
        "membership.deleted",
        "user.deleted",
    ]
    assert api_get(http, emu, "/orgs/" + engines["id"])["state"] == "closed"
    lookup = http.get(emu.api_url() + "/sessions/" + session["id"], headers=v2_headers(emu))
    assert lookup.status_code == 404


def test_a_user_has_at_most_one_membership_per_org(emu: AuthRocketEmulator) -> None:
    user, engines = member_of_two_orgs(emu)

    with pytest.raises(ValueError, match="already a member"):
        emu.create_membership(user["id"], engines["id"])


def test_events_are_generated_and_served_like_get_an_event(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()
    session, _ = emu.login(user["id"])
    emu.end_session(session["id"])

    types = [event["event_type"] for event in emu.events]
    assert types == ["user.created", "user.login.succeeded", "session.deleted"]
    deleted = emu.events[-1]
    assert deleted["id"].startswith("ev_")
    assert (deleted["user_id"], deleted["session_id"]) == (user["id"], session["id"])
    assert api_get(http, emu, "/events/" + deleted["id"]) == deleted
    newest_first = api_get(http, emu, "/events")["collection"]
    assert [e["event_type"] for e in newest_first] == list(reversed(types))
    oldest_first = api_get(http, emu, "/events", direction="asc", event_type="user.")["collection"]
    assert [e["event_type"] for e in oldest_first] == ["user.created", "user.login.succeeded"]


def test_unknown_api_paths_and_methods_answer_json_errors(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    missing = http.get(emu.api_url() + "/widgets", headers=v2_headers(emu))
    wrong_method = http.put(emu.api_url() + "/sessions/kss_x", headers=v2_headers(emu))

    assert missing.status_code == 404
    assert wrong_method.status_code == 405
    assert "errors" in missing.json()
    assert "errors" in wrong_method.json()


# -- faults ----------------------------------------------------------------------------------------


def test_status_fault_answers_once_with_retry_after_then_the_api_recovers(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    fault = emu.inject_fault("/api/v2/users", status=429, retry_after=7)
    url = emu.api_url() + "/users"

    limited = http.get(url, headers=v2_headers(emu))
    recovered = http.get(url, headers=v2_headers(emu))

    assert isinstance(fault, Fault)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["errors"]
    assert limited.headers["X-Request-ID"].startswith("rq_")
    assert recovered.status_code == 200
    assert fault.hits == 1


def test_fault_matches_path_pattern_and_method_and_lasts_until_cleared_when_times_is_none(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    fault = emu.inject_fault("/api/v2/sessions/*", method="DELETE", status=500, times=None)
    session, _ = emu.login(emu.create_user()["id"])
    url = emu.api_url() + "/sessions/" + session["id"]

    statuses = [http.delete(url, headers=v2_headers(emu)).status_code for _ in range(3)]
    assert http.get(url, headers=v2_headers(emu)).status_code == 200
    emu.clear_faults()

    assert statuses == [500, 500, 500]
    assert fault.hits == 3
    assert http.delete(url, headers=v2_headers(emu)).status_code == 204


def test_fault_with_probability_zero_never_fires(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    fault = emu.inject_fault("/connect/jwks", times=None, probability=0.0)

    assert all(http.get(emu.url + "/connect/jwks").status_code == 200 for _ in range(5))
    assert fault.hits == 0


def test_latency_fault_delays_the_real_answer(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/connect/jwks", kind="latency", delay=0.3)

    started = time.monotonic()
    response = http.get(emu.url + "/connect/jwks")

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json() == emu.jwks


def test_a_request_is_logged_on_arrival_even_when_the_client_gives_up_waiting(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/connect/jwks", kind="latency", delay=1.0)

    with pytest.raises(requests.Timeout):
        http.get(emu.url + "/connect/jwks", timeout=0.2)

    assert emu.count_requests("/connect/jwks") == 1
    [pending] = emu.requests
    assert (pending.status, pending.fault) == (0, "latency")  # no answer sent yet


def test_drop_fault_closes_the_connection_without_an_answer(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/connect/jwks", kind="drop")

    with pytest.raises(requests.ConnectionError):
        http.get(emu.url + "/connect/jwks")
    assert emu.requests[-1].status == 0
    assert emu.requests[-1].fault == "drop"
    assert http.get(emu.url + "/connect/jwks").status_code == 200


def test_reset_fault_breaks_off_in_the_middle_of_the_body(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/connect/jwks", kind="reset")

    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(emu.url + "/connect/jwks")


def test_body_fault_serves_exactly_the_given_bytes_and_can_change_between_requests(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    fault = emu.inject_fault(
        "/connect/jwks",
        kind="body",
        status=418,
        body=b"\xff\x00not json",
        content_type="x/y",
        times=None,
    )
    first = http.get(emu.url + "/connect/jwks")
    assert (first.status_code, first.content, first.headers["Content-Type"]) == (
        418,
        b"\xff\x00not json",
        "x/y",
    )
    fault.body, fault.content_type = b"{}", None
    second = http.get(emu.url + "/connect/jwks")
    assert second.content == b"{}"
    assert "Content-Type" not in second.headers
    assert fault.hits == 2


@pytest.mark.parametrize("kind", ["malformed_json", "truncated_json"])
def test_broken_json_faults_answer_200_with_a_body_that_does_not_parse(
    emu: AuthRocketEmulator, http: requests.Session, kind: str
) -> None:
    emu.inject_fault("/api/v2/users", kind=kind)  # type: ignore[arg-type]

    response = http.get(emu.api_url() + "/users", headers=v2_headers(emu))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_html_fault_answers_a_proxy_error_page(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/api/v2/*", kind="html")

    response = http.get(emu.api_url() + "/users", headers=v2_headers(emu))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Bad Gateway" in response.text


def test_content_type_fault_sends_valid_json_labelled_text_plain(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/api/v2/users", kind="content_type")

    response = http.get(emu.api_url() + "/users", headers=v2_headers(emu))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.json() == {"collection": [], "more_results": False}


def test_oversize_fault_sends_about_20_megabytes_of_json(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    emu.inject_fault("/connect/jwks", kind="oversize")

    response = http.get(emu.url + "/connect/jwks", stream=True)

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) >= 20 * 1024 * 1024
    assert len(response.content) == int(response.headers["Content-Length"])


def test_unknown_fault_kind_is_refused(emu: AuthRocketEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject_fault(kind="explode")  # type: ignore[arg-type]


# -- request log, reset, robustness ----------------------------------------------------------------


def test_request_log_records_what_each_request_sent_and_got(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    http.get(emu.api_url() + "/users", headers=v2_headers(emu), params={"state": "active"})
    http.post(emu.api_url() + "/users", headers=v2_headers(emu), json={"user": {"email": "a@b.c"}})
    http.get(emu.url + "/connect/jwks")

    first, second, third = emu.requests
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/api/v2/users",
        {"state": ["active"]},
        200,
    )
    assert first.header("authrocket-api-key") == emu.api_key
    assert first.header("ACCEPT") == "application/json"
    assert second.body == b'{"user": {"email": "a@b.c"}}'
    assert second.status == 201
    assert third.at >= second.at >= first.at
    assert emu.count_requests("/api/v2/*") == 2
    assert emu.count_requests("/api/v2/*", method="post") == 1
    assert emu.count_requests() == 3

    emu.clear_requests()

    assert emu.requests == []


def test_reset_forgets_data_faults_and_requests_but_keeps_keys_and_port(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()
    emu.inject_fault(times=None)
    http.get(emu.url + "/connect/jwks")
    kid, url = emu.current_kid, emu.url

    emu.reset()

    assert (emu.current_kid, emu.url) == (kid, url)
    assert emu.requests == []
    assert emu.events == []
    assert http.get(emu.url + "/connect/jwks").status_code == 200
    assert (
        http.get(emu.api_url() + "/users/" + user["id"], headers=v2_headers(emu)).status_code == 404
    )


def test_a_request_held_across_a_reset_does_not_write_into_the_fresh_data(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    # A client that timed out on a slow POST, then the next test: the POST must not land there.
    emu.inject_fault("/api/v2/users", method="POST", kind="latency", delay=0.4)
    with pytest.raises(requests.exceptions.Timeout):
        http.post(
            emu.api_url() + "/users",
            json={"user": {"email": "late@example.com"}},
            headers=v2_headers(emu),
            timeout=0.1,
        )
    emu.reset()
    time.sleep(0.6)  # the held request wakes up after the reset
    listed = http.get(emu.api_url() + "/users", headers=v2_headers(emu)).json()["collection"]
    assert listed == []


def test_a_failing_handler_answers_500_json_and_the_server_keeps_serving(
    emu: AuthRocketEmulator, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(emu._store, "page_orgs", broken)

    response = http.get(emu.api_url() + "/orgs", headers=v2_headers(emu))

    assert response.status_code == 500
    assert "boom" in response.json()["errors"][0]
    assert emu.requests[-1].status == 500
    assert "RuntimeError: boom" in emu.server_errors[-1]
    assert http.get(emu.url + "/connect/jwks").status_code == 200


def test_concurrent_requests_are_all_answered(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    user = emu.create_user()

    def work(i: int) -> list[int]:
        with http_session() as session:
            statuses = []
            for j in range(10):
                created = session.post(
                    emu.api_url() + "/users",
                    headers=v2_headers(emu),
                    json={"user": {"email": f"c{i}-{j}@example.com"}},
                )
                statuses.append(created.status_code)
                token = emu.mint_token(user["id"])
                statuses.append(
                    session.get(
                        emu.api_url() + "/sessions/" + token, headers=v2_headers(emu)
                    ).status_code
                )
            return statuses

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = [status for statuses in pool.map(work, range(16)) for status in statuses]

    assert results.count(201) == 160
    assert results.count(200) == 160
    assert len(api_get(http, emu, "/users", max_results=1000)["collection"]) == 161
    assert emu.server_errors == []


def test_stop_is_prompt_frees_the_port_and_leaves_no_threads() -> None:
    threads_before = set(threading.enumerate())
    ports = set()
    started = time.monotonic()
    for _ in range(20):
        emu = AuthRocketEmulator().start()
        ports.add(emu.port)
        with http_session() as keep_alive:
            assert keep_alive.get(emu.url + "/connect/jwks").status_code == 200
            emu.stop()  # while the client still holds its keep-alive connection
    elapsed = time.monotonic() - started

    assert elapsed < 10  # mostly RSA key generation; stop() itself does not poll
    assert set(threading.enumerate()) - threads_before == set()
    for port in ports:
        with socket.socket() as probe:  # nobody listens any more (TIME_WAIT is fine)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
            probe.listen()


def test_a_restarted_emulator_keeps_its_url_and_data(http: requests.Session) -> None:
    emu = AuthRocketEmulator().start()
    user = emu.create_user()
    url = emu.url
    emu.stop()
    assert not emu.running
    with pytest.raises(requests.ConnectionError):
        http.get(url + "/connect/jwks", timeout=2)

    with emu:
        assert emu.url == url
        assert api_get(http, emu, "/users/" + user["id"])["id"] == user["id"]


def test_paging_5000_users_by_the_largest_page_lists_each_once(
    emu: AuthRocketEmulator, http: requests.Session
) -> None:
    created = {emu.create_user(f"many{i}@example.com")["id"] for i in range(5000)}
    seen: list[str] = []
    pages, after = 0, None
    while True:
        params: dict[str, Any] = {"max_results": 1000, **({"after": after} if after else {})}
        body = api_get(http, emu, "/users", **params)
        pages += 1
        seen += [user["id"] for user in body["collection"]]
        if not body["more_results"]:
            break
        after = body["collection"][-1]["id"]

    assert len(seen) == len(set(seen)) == 5000
    assert created <= set(seen)
    assert pages == 5
