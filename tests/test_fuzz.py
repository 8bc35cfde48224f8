"""Fuzzing (hypothesis) of what parses outside input, beyond tokens (see test_token_attacks.py).

The property everywhere: a defined answer or a correct result, never an unhandled exception,
never a 500, never an off-site redirect.

* ``next`` values given to a successful login, to the login redirect and to logout, and
  ``redirects.safe_next`` itself: every redirect lands on this site;
* paths carrying ``?token=`` with ``AUTHROCKET_TOKEN_ANYWHERE``: the clean-up redirect stays here;
* webhook bodies (JSON values, event-shaped objects, raw bytes): 2xx or 4xx, and the mirror
  changes only for a valid known event;
* Core API answers (any status, content type and bytes, through the emulator's ``body`` fault):
  the client returns a dict (or a list of dicts) or raises an ``APIError`` subclass;
* Get Session answers in api mode: the login answers 302, 401 or 503;
* key set documents: ``parse_jwks`` returns keys or raises ValueError, a login answers 302,
  401 or 503.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from typing import Any
from urllib.parse import parse_qs, quote, quote_from_bytes, urlsplit

import pytest
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_authrocket import redirects
from django_authrocket.client import AuthRocketClient
from django_authrocket.exceptions import APIError, InvalidResponse
from django_authrocket.keys import KeyStore, parse_jwks
from django_authrocket.models import (
    AuthRocketMembership,
    AuthRocketOrg,
    AuthRocketUser,
    AuthRocketWebhookEvent,
)
from django_authrocket.sync import sync
from django_authrocket.testing import log_in_through_site, start_login
from django_authrocket.webhook_events import action_for
from tests.helpers import login_with

pytestmark = pytest.mark.django_db

#: ``FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` digs deeper than the default run.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECRET = "whsec-fuzz-0b6f2d8e41c9a7"
WEBHOOK_URL = f"/webhook/{SECRET}/"
HOST = "testserver"

# --- strategies -------------------------------------------------------------------------------

#: Text a browser can send (no lone surrogates), control characters included.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
#: Pieces that redirect checks are known to trip on.
# fmt: off
URL_PIECE_LIST = [
    "/", "//", "///", "\\", "\\\\", "/\\", "\\/", "http:", "https:", "HTTPS:", "javascript:",
    "data:text/html,", "ftp:", "mailto:", "file:", "evil.example", "testserver", "@", ":",
    "user:pass@", "%2F", "%2f", "%5C", "%09", "%0A", "%00", "\t", "\n", "\r", " ", "\x00",
    "\x01", "\x08", "\x0b", "\x7f", "\u2028", "\u00a0", "\ufeff", "?", "#", "..", ".",
    "\uff0f", "\uff3c", "\u3002", "\uff41", "http://testserver", "https://testserver", ":80",
    ":443", "http://testserver.evil.example", "https://evil.example@testserver", "[::1]",
    "www.evil.example", "/private/", "/public/", "//evil.example/", "/\\evil.example",
    "\\\\evil.example", "http:/evil.example", "http:\\\\evil.example", "%2F%2Fevil.example",
]
# fmt: on
URL_PIECES = st.sampled_from(URL_PIECE_LIST)
urlish = st.lists(st.one_of(URL_PIECES, text), max_size=8).map("".join)
next_values = st.one_of(urlish, text)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(text, st.sampled_from(["id", "event_type", "object"])), children
        )
    ),
    max_leaves=20,
)


def lands_here(location: str, *, secure: bool = False) -> bool:
    """Whether a browser following ``Location: location`` from ``testserver`` stays there.

    Read like a browser does: leading/trailing C0 controls and spaces stripped, tabs and
    newlines removed anywhere, backslashes taken as slashes. ``//`` with an empty host (``"//"``,
    ``"//?x"``) is no URL at all to a browser (the host is missing): it goes nowhere, so it
    does not leave the site either.
    """
    url = location.strip("".join(map(chr, range(0x21))))
    url = re.sub(r"[\t\n\r]", "", url).replace("\\", "/")
    parts = urlsplit(url)
    if parts.scheme:
        wanted = ("https",) if secure else ("http", "https")
        return parts.scheme.lower() in wanted and parts.netloc == HOST
    return parts.netloc in ("", HOST)  # a path, or "//testserver/...": this site either way


# --- next and redirect targets ----------------------------------------------------------------


@pytest.fixture
def login_token(settings, emulator, ada) -> str:
    settings.AUTHROCKET_PREVENT_TOKEN_REPLAY = False  # one token, logged in with many times
    return emulator.mint_token(ada["id"])


@FUZZ
@given(value=next_values)
@example(value="//evil.example/")
@example(value="/\\evil.example")
@example(value="\x01//evil.example")
@example(value="https://testserver@evil.example/")
@example(value="javascript:alert(1)")
@example(value="//\t/")
def test_login_next_never_leaves_the_site(login_token, value: str) -> None:
    client = Client()
    start_login(client)  # the site's own login start: the token logs in without a question
    response = client.get("/login/", {"token": login_token, "next": value})

    assert response.status_code == 302, response.content[:200]
    assert lands_here(response["Location"]), response["Location"]


@FUZZ
@given(raw=st.binary(max_size=40))
def test_login_next_as_raw_bytes_never_leaves_the_site(login_token, raw: bytes) -> None:
    # Any byte sequence percent-encoded into the query: invalid UTF-8 and NULs included.
    query = f"token={login_token}&next={quote_from_bytes(raw, safe='')}"
    client = Client()
    start_login(client)  # the site's own login start: the token logs in without a question
    response = client.get(f"/login/?{query}")

    assert response.status_code == 302
    assert lands_here(response["Location"]), response["Location"]


@FUZZ
@given(value=next_values)
def test_the_redirect_to_loginrocket_carries_only_a_safe_return_address(
    emulator, value: str
) -> None:
    response = Client().get("/login/", {"next": value})

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{emulator.loginrocket_url}/login?")
    redirect_uri = parse_qs(urlsplit(location).query)["redirect_uri"][0]
    back = urlsplit(redirect_uri)
    assert (back.scheme, back.netloc, back.path) == ("http", HOST, "/login/")
    for kept in parse_qs(back.query).get("next", []):
        assert lands_here(kept)


@FUZZ
@given(value=next_values)
@example(value="\t/")
def test_logout_next_never_leaves_the_site(emulator, ada, value: str) -> None:
    client = Client()
    log_in_through_site(client, emulator.mint_token(ada["id"]))

    response = client.post("/logout/", {"next": value})

    assert response.status_code == 302
    redirect_uri = parse_qs(urlsplit(response["Location"]).query)["redirect_uri"][0]
    assert lands_here(redirect_uri), redirect_uri
    assert urlsplit(redirect_uri).netloc == HOST  # LoginRocket sends the browser back here


@FUZZ
@given(value=next_values, secure=st.booleans())
@example(value="http://testserver/private/", secure=True)
@example(value="///evil.example", secure=False)
@example(value="\t/", secure=False)
@example(value="//testserver", secure=False)
@example(value="//\t/", secure=False)
@example(value="/\n/evil.example", secure=False)
def test_safe_next_answers_the_value_itself_or_none(value: str, secure: bool) -> None:
    request = RequestFactory().get("/", secure=secure)

    safe = redirects.safe_next(request, value)

    assert safe is None or safe == value.strip()  # the value checked is the value used
    if safe is not None:
        assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in safe)
    if safe is not None:
        assert lands_here(safe, secure=secure), safe


@pytest.fixture
def token_anywhere(settings, login_token) -> str:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    return login_token


@FUZZ
@given(segments=st.lists(st.one_of(URL_PIECES, text), min_size=1, max_size=5))
@example(segments=["/evil.example"])
@example(segments=["\\evil.example"])
def test_token_anywhere_cleans_up_to_a_path_on_this_site(
    token_anywhere, segments: list[str]
) -> None:
    login_token = token_anywhere
    path = "/" + quote("".join(segments), safe="/\\:@")

    client = Client()
    start_login(client)  # the login started here: the token logs in, or is refused
    response = client.get(path, {"token": login_token, "keep": "1"})

    assert response.status_code < 500
    if response.status_code == 302:
        assert lands_here(response["Location"]), response["Location"]


# --- webhook bodies ---------------------------------------------------------------------------


def mirror_digest() -> str:
    rows = [
        list(AuthRocketUser.objects.order_by("pk").values()),
        list(AuthRocketOrg.objects.order_by("pk").values()),
        list(AuthRocketMembership.objects.order_by("pk").values()),
    ]
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


@pytest.fixture
def webhook(request, settings, emulator, ada):
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    settings.AUTHROCKET_HTTP_RETRIES = 0
    if "refetch" in request.fixturenames:
        settings.AUTHROCKET_WEBHOOK_REFETCH = request.getfixturevalue("refetch")
    sync()
    return Client()


KNOWN_TYPES = [
    "ping",
    "user.created",
    "user.updated",
    "user.deleted",
    "user.login.failed",
    "org.updated",
    "membership.created",
    "membership.deleted",
    "session.deleted",
    "invoice.paid",
]


def event_shaped(ada_id: str) -> Any:
    ids = st.one_of(text, st.just(ada_id), st.sampled_from(["usr_x", "org_x", "mb_x", "kss_x"]))
    return st.fixed_dictionaries(
        {"id": st.one_of(text, json_values), "event_type": st.sampled_from(KNOWN_TYPES)},
        optional={
            "object": st.one_of(st.just("event"), json_values),
            "user_id": st.one_of(ids, json_values),
            "org_id": ids,
            "membership_id": ids,
            "session_id": ids,
            "event_at": st.one_of(st.integers(), text, json_values),
        },
    )


def post(client: Client, body: bytes):
    return client.post(WEBHOOK_URL, body, content_type="application/json")


def assert_defined_webhook_answer(response, before: str, body: bytes) -> None:
    assert 200 <= response.status_code < 500, response.content[:300]
    if mirror_digest() != before:
        # Only a valid event of a mirrored family may change the mirror, and it answers 200.
        event = json.loads(body)
        assert response.status_code == 200
        assert event["event_type"].split(".")[0] in {"user", "org", "membership"}


@FUZZ
@given(value=json_values)
@example(value={"id": "ev_1", "event_type": "ping"})
@example(value={"id": "", "event_type": "user.updated"})
@example(value={"id": "ev_2", "event_type": "user.updated", "object": None})
def test_webhook_json_values_get_a_defined_answer(webhook, value: Any) -> None:
    before = mirror_digest()
    body = json.dumps(value).encode()

    assert_defined_webhook_answer(post(webhook, body), before, body)


@pytest.mark.parametrize("refetch", [True, False], ids=["refetch", "no-refetch"])
@FUZZ
@given(data=st.data())
def test_webhook_event_shaped_bodies_get_a_defined_answer(
    webhook, settings, ada, refetch: bool, data: st.DataObject
) -> None:
    event = data.draw(event_shaped(ada["id"]))
    before = mirror_digest()
    body = json.dumps(event).encode()

    response = post(webhook, body)

    assert_defined_webhook_answer(response, before, body)
    if refetch and response.status_code == 200 and action_for(event["event_type"], event).reads:
        # The emulator knows none of these made-up events: of the events that are re-fetched,
        # only a redelivery can be a 200.
        assert response.json()["outcome"] == "already processed"


@FUZZ
@given(body=st.binary(max_size=300))
@example(body=b"[" * 100_000)
@example(body=b'{"id": "ev_1", "event_type": "user.updated"' + b"}" * 3)
@example(body=b"\xff\xfe{\x00}\x00")
@example(body=b'{"id": "ev_nan", "event_type": "ping", "n": NaN}')
def test_webhook_raw_bytes_get_a_defined_answer(webhook, body: bytes) -> None:
    before = mirror_digest()
    events = AuthRocketWebhookEvent.objects.count()

    response = post(webhook, body)

    assert 200 <= response.status_code < 500
    assert mirror_digest() == before
    if response.status_code != 200:
        assert AuthRocketWebhookEvent.objects.count() == events


# --- Core API answers fed to the client ------------------------------------------------------

STATUSES = st.sampled_from([200, 200, 200, 201, 400, 401, 402, 403, 404, 409, 418, 422, 429, 500])
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/problem+json",
        "application/jsonx",
        "text/html",
        "text/plain",
        "",
        None,
    ]
)
api_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"id": st.one_of(text, json_values)}, optional={"object": json_values}
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"collection": st.one_of(st.lists(json_values, max_size=3), json_values)},
        optional={"more_results": json_values, "errors": json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@pytest.fixture
def no_retries(settings, emulator):
    settings.AUTHROCKET_HTTP_RETRIES = 0
    return settings


@pytest.fixture
def api_client(no_retries) -> AuthRocketClient:
    return AuthRocketClient.from_settings()


@pytest.fixture
def body_fault(emulator):
    """A fault that answers every Core API call with whatever the test puts in it."""
    return emulator.inject_fault("/api/v2/*", kind="body", status=200, times=None)


def serve(fault: Any, status: int, content_type: str | None, body: bytes) -> None:
    fault.status, fault.content_type, fault.body = status, content_type, body


@FUZZ
@given(status=STATUSES, content_type=CONTENT_TYPES, body=api_bodies)
@example(status=200, content_type="application/json", body=b'{"id": "usr_1"}')
@example(status=200, content_type="application/json", body=b"[" * 50_000)
@example(status=200, content_type="application/json", body=b"1" * 5000)
@example(status=404, content_type="application/json", body=b'{"errors": [{"x": []}]}')
def test_get_user_returns_an_object_or_raises_an_api_error(
    api_client, body_fault, status: int, content_type: str | None, body: bytes
) -> None:
    serve(body_fault, status, content_type, body)
    try:
        user = api_client.get_user("usr_fuzz")
    except APIError:
        return
    assert isinstance(user, dict) and isinstance(user["id"], str)


@FUZZ
@given(status=STATUSES, content_type=CONTENT_TYPES, body=api_bodies)
@example(
    status=200,
    content_type="application/json",
    body=b'{"collection": [{"id": "usr_1"}], "more_results": true}',
)
def test_list_calls_return_objects_or_raise_an_api_error(
    api_client, body_fault, status: int, content_type: str | None, body: bytes
) -> None:
    serve(body_fault, status, content_type, body)
    try:
        users = list(itertools.islice(api_client.iter_users(), 1000))
    except APIError:
        return
    assert all(isinstance(user, dict) and isinstance(user["id"], str) for user in users)


def test_a_list_answer_that_repeats_its_page_stops_instead_of_looping(
    api_client, body_fault
) -> None:
    page = b'{"collection": [{"id": "usr_1"}], "more_results": true}'
    serve(body_fault, 200, "application/json", page)

    with pytest.raises(InvalidResponse, match="does not advance"):
        list(itertools.islice(api_client.iter_users(), 1000))
    assert body_fault.hits == 2


def test_the_body_fault_serves_exactly_what_it_is_given(emulator, body_fault) -> None:
    import requests

    serve(body_fault, 418, "text/x-teapot", b"\x00\xffshort and stout")
    response = requests.get(f"{emulator.api_url()}/users", timeout=5)
    assert response.status_code == 418
    assert response.headers["Content-Type"] == "text/x-teapot"
    assert response.content == b"\x00\xffshort and stout"


# --- Get Session answers at an api-mode login ---------------------------------------------------


@pytest.fixture
def api_login(settings, emulator, ada, login_token):
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 0
    # The real answer, to mutate: Get Session with the token.
    answer = AuthRocketClient.from_settings().get_session(login_token)
    fault = emulator.inject_fault("/api/v2/sessions/*", kind="body", status=200, times=None)
    return answer, fault, login_token


SESSION_KEYS = st.sampled_from(["id", "object", "user_id", "created_at", "expires_at", "user"])
USER_KEYS = st.sampled_from(
    [
        "id",
        "email",
        "email_verification",
        "name",
        "first_name",
        "last_name",
        "username",
        "reference",
        "custom",
        "realm_id",
        "memberships",
        "state",
    ]
)
MEMBERSHIP_KEYS = st.sampled_from(["id", "org_id", "permissions", "selected", "custom", "org"])


@FUZZ
@given(
    top=st.dictionaries(SESSION_KEYS, json_values, max_size=3),
    user=st.dictionaries(USER_KEYS, json_values, max_size=3),
    membership=st.dictionaries(MEMBERSHIP_KEYS, json_values, max_size=3),
    drop=st.lists(st.one_of(SESSION_KEYS, USER_KEYS), max_size=2),
)
def test_an_api_mode_login_survives_any_get_session_answer(
    api_login, top: dict, user: dict, membership: dict, drop: list[str]
) -> None:
    answer, fault, token = api_login
    mutated = json.loads(json.dumps(answer))
    the_user = mutated.get("user")
    if isinstance(the_user, dict):
        memberships = the_user.get("memberships")
        if isinstance(memberships, list) and memberships and isinstance(memberships[0], dict):
            memberships[0].update(membership)
        the_user.update(user)
        for key in drop:
            the_user.pop(key, None)
    mutated.update(top)
    for key in drop:
        mutated.pop(key, None)
    serve(fault, 200, "application/json", json.dumps(mutated).encode())

    response = login_with(Client(), token, "/private/")  # a refusal: the failure page

    assert response.status_code in (302, 401, 503), response.content[:300]


# --- key set documents ------------------------------------------------------------------------

jwk_entries = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.one_of(st.just("RSA"), json_values),
        "kid": st.one_of(text, json_values),
        "alg": st.one_of(st.sampled_from(["RS256", "HS256", "none"]), json_values),
        "use": st.one_of(st.just("sig"), json_values),
        "key_ops": st.one_of(st.just(["verify"]), json_values),
        "n": st.one_of(st.sampled_from(["", "AQAB", "_-_-", "AA==", "A" * 400]), text),
        "e": st.one_of(st.sampled_from(["", "AQAB", "AA"]), text),
        "x5c": st.one_of(st.lists(st.one_of(text, st.just("MIIB")), max_size=2), json_values),
    },
)
jwks_documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"keys": st.one_of(st.lists(jwk_entries, max_size=3), json_values)}),
)


@FUZZ
@given(document=jwks_documents)
def test_parse_jwks_returns_keys_or_raises_value_error(document: Any) -> None:
    try:
        keys = parse_jwks(document)
    except ValueError:
        return
    assert all(isinstance(kid, str) and key.algorithm == "RS256" for kid, key in keys.items())


@FUZZ
@given(
    body=st.one_of(jwks_documents.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)),
    content_type=CONTENT_TYPES,
)
@example(body=b"[" * 100_000, content_type="application/json")
def test_a_login_survives_any_key_set_answer(
    no_retries, emulator, login_token, body: bytes, content_type: str | None
) -> None:
    KeyStore.for_settings().clear()
    fault = emulator.inject_fault("/connect/jwks", kind="body", status=200, times=1)
    serve(fault, 200, content_type, body)

    response = login_with(Client(), login_token)  # the failure page

    assert response.status_code in (401, 503), response.content[:300]
