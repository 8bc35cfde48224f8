"""Peer benchmark: django-authrocket against mozilla-django-oidc, on equal terms.

One process, one Django configuration (SQLite file, LocMem cache, both apps installed, both
packages' URLs, the same ``@login_required`` view as the landing page after every login), one
run. It measures:

**Login completion**, the one request that turns a person coming back from the identity
provider into a logged-in Django session:

- ours: ``GET /login/?token=...`` with a token minted by the AuthRocket emulator, in jwt mode
  (signature checked with LoginRocket's key set, warm: no HTTP call) and in api mode (one Get
  Session call to the emulator);
- mozilla-django-oidc: ``GET /oidc/callback/?code=...&state=...``, after its authenticate view
  put state and nonce in the session and a local OpenID provider stand-in issued the code (both
  untimed). The callback POSTs the code to the token endpoint, verifies the RS256 ID token (key
  from the JWKS endpoint, or a static key: both are measured), GETs the userinfo endpoint and
  logs the user in;
- the floor: a view that calls Django's ``auth.login()`` for a known user and verifies nothing.

Beside target 2's api-mode figure (an api-mode login over a jwt-mode one, in loopback round
trips of its Get Session call timed alone in the same rounds), two readings: that call timed
inside each api-mode login, with what the login takes besides it; and the same figure with
the two modes alone in turn (see :func:`time_two_modes`).

Returning users, plus a first login for each package. Each login uses a fresh test client (a
fresh session); everything but that one request is outside the timing, and every timed login
is checked (302 to the landing page, the session logged in as the right user). The contenders
alternate single logins in a new random order each round; ratios are medians of per-round
ratios. HTTP calls and database queries per login are counted, not assumed.

**Per-request overhead**: benchmarks/middleware.py's measurement (stock session + auth,
AuthRocketMiddleware in jwt and api mode, mozilla-django-oidc's ``SessionRefresh``), the
``SessionRefresh`` client logged in through mozilla-django-oidc's own callback.

    .venv/bin/python benchmarks/peers.py [--quick] [--users N] [--write-docs]

``--quick`` is the short run; ``--users N`` puts N more users in the user table first;
``--write-docs`` rewrites the generated part of the peer section of docs/performance.md.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from hashlib import sha256
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import middleware as per_request  # benchmarks/middleware.py: the per-request measurement

DOCS_PAGE = per_request.ROOT / "docs" / "performance.md"
START, END = "<!-- peers:start -->", "<!-- peers:end -->"
COMMAND = ".venv/bin/python benchmarks/peers.py --write-docs"
PACKAGES = ("Django", "django-authrocket", "mozilla-django-oidc", "PyJWT", "requests")

CLIENT_ID, CLIENT_SECRET = "peer-bench", "peer-bench-secret"
OURS_STACK = [*per_request.BASE_MIDDLEWARE, per_request.OURS]
OIDC_STACK = [*per_request.BASE_MIDDLEWARE, per_request.OIDC]
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
JWKS, STATIC = "mozilla-django-oidc, JWKS endpoint", "mozilla-django-oidc, static key"
OURS_JWT, OURS_API = "ours, jwt mode", "ours, api mode"
FIRST = ", first login"


# --- the OpenID provider stand-in ------------------------------------------------------------


class OIDCStandIn:
    """A local OpenID provider: token, userinfo and JWKS endpoints on 127.0.0.1.

    Served by the AuthRocket emulator's HTTP server (threading stdlib server, keep-alive), so
    both packages talk to the same kind of server. The provider's own work (the person signing
    in, signing the ID token) happens in :meth:`authorize`, outside the timing; the endpoints
    answer from memory.
    """

    def __init__(self) -> None:
        from django_authrocket.testing.faults import FaultList
        from django_authrocket.testing.recording import RequestLog
        from django_authrocket.testing.server import EmulatorHTTPServer
        from django_authrocket.testing.signing import SigningKey

        self.key = SigningKey.generate()
        self.log = RequestLog()
        self._server = EmulatorHTTPServer(("127.0.0.1", 0), self, FaultList(), self.log)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, bytes]] = {}  # code: (redirect_uri, token answer)
        self._userinfo: dict[str, bytes] = {}  # access token: userinfo answer

    def __enter__(self) -> OIDCStandIn:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def settings(self) -> dict[str, object]:
        """mozilla-django-oidc's endpoint settings for this provider."""
        return {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
        }

    def authorize(self, location: str, email: str) -> dict[str, str]:
        """The person at ``location`` signs in as ``email``: the callback's query string."""
        from django.utils.crypto import get_random_string

        from django_authrocket.testing.signing import sign_jws

        query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        assert query["client_id"] == CLIENT_ID, query
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": sha256(email.encode()).hexdigest()[:24],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 3600,
            "nonce": query["nonce"],
            "email": email,
        }
        id_token = sign_jws(claims, algorithm="RS256", key=self.key, headers={"kid": self.key.kid})
        code, access_token = get_random_string(32), get_random_string(32)
        answer = {"access_token": access_token, "token_type": "Bearer", "id_token": id_token}
        userinfo = {"sub": claims["sub"], "email": email, "email_verified": True}
        with self._lock:
            self._codes[code] = (query["redirect_uri"], json.dumps(answer).encode())
            self._userinfo[access_token] = json.dumps(userinfo).encode()
        return {"code": code, "state": query["state"]}

    def __call__(self, request: Any) -> Any:
        from django_authrocket.testing.wire import Response, json_response

        if request.path == "/token" and request.method == "POST":
            form = request.form()
            with self._lock:
                redirect_uri, answer = self._codes.pop(form.get("code", ""), ("", b""))
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return json_response(401, {"error": "invalid_client"})
            if not answer or form.get("redirect_uri") != redirect_uri:
                return json_response(400, {"error": "invalid_grant"})
            return Response(200, answer)
        if request.path == "/userinfo" and request.method == "GET":
            bearer = (request.header("Authorization") or "").removeprefix("Bearer ")
            with self._lock:
                userinfo = self._userinfo.get(bearer)
            return Response(200, userinfo) if userinfo else json_response(401, {})
        if request.path == "/jwks" and request.method == "GET":
            return json_response(200, {"keys": [self.key.jwk()]})
        return json_response(404, {"error": "not_found"})


# --- the site -------------------------------------------------------------------------------


def stock_login(request: Any) -> Any:
    """The floor: log a known user in with Django's ``auth.login()``, verifying nothing."""
    from django.conf import settings
    from django.contrib import auth
    from django.contrib.auth import get_user_model
    from django.http import HttpResponseRedirect
    from django.shortcuts import resolve_url

    user = get_user_model().objects.get(username=request.GET["username"])
    auth.login(request, user, backend=MODEL_BACKEND)
    return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))


def configure(users: int) -> None:
    """Django for both packages, migrated; ``users`` more users in the table."""
    have_oidc = per_request.configure(
        ROOT_URLCONF=__name__,
        LOGIN_REDIRECT_URL="/",
        AUTHENTICATION_BACKENDS=[
            "django_authrocket.backends.AuthRocketBackend",
            per_request.OIDC_BACKEND,
            MODEL_BACKEND,
        ],
        # A careful deployer's settings for an RS256 provider (the endpoints: OIDCStandIn).
        OIDC_RP_CLIENT_ID=CLIENT_ID,
        OIDC_RP_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_RP_SIGN_ALGO="RS256",
        OIDC_TIMEOUT=10,
    )
    if not have_oidc:
        sys.exit("mozilla-django-oidc is not installed (`make bench` installs it)")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.urls import path

    global urlpatterns
    urlpatterns = [*per_request._urlpatterns(), path("stock-login/", stock_login)]
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user_model.objects.bulk_create(
        user_model(username=f"filler{i}", email=f"filler{i}@example.com") for i in range(users)
    )


# --- logins ---------------------------------------------------------------------------------


@dataclass
class Login:
    """One prepared login: the request to time, and who must be logged in afterwards."""

    client: Any
    url: str
    email: str
    user_pk: int | None  # the returning user's; None for a first login (deleted afterwards)


@dataclass
class Contender:
    name: str
    prepare: Callable[[], Login]
    samples: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    queries: str = ""
    #: Per timed login, the time its Get Session calls took (api mode; 0 otherwise).
    in_calls: list[float] = field(default_factory=list)


def new_client(middleware: list[str]) -> Any:
    """A fresh test client (fresh session), its middleware chain built outside the timing."""
    from django.conf import settings
    from django.test import Client

    settings.MIDDLEWARE = middleware
    client = Client()
    client.get("/public-warmup/")
    return client


def use_mode(mode: str) -> None:
    """Switch ``AUTHROCKET_VERIFY`` outside the timing, and read every setting again there."""
    from django.conf import settings

    from django_authrocket.conf import AppSettings, app_settings, reload

    if mode != settings.AUTHROCKET_VERIFY:
        settings.AUTHROCKET_VERIFY = mode
        reload()
        for setting in AppSettings.all():  # a real deployment never switches: all warm
            getattr(app_settings, setting.name.removeprefix("AUTHROCKET_"))


def assert_landed(response: Any, who: str) -> None:
    """A finished login: a redirect to the landing page."""
    assert response.status_code == 302, (who, response)
    assert response["Location"] == "/", (who, response["Location"])


def make_contenders(emulator: Any, standin: OIDCStandIn) -> list[Contender]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from django_authrocket.testing import log_in_through_site, start_login

    user_model = get_user_model()
    org = emulator.create_org("Analytical Engines")
    numbers = iter(range(10**9))

    def ar_person(email: str) -> str:  # as the middleware benchmark's person: one org, admin
        person = emulator.create_user(email, first_name=email.split("@")[0].title())
        emulator.create_membership(person["id"], org["id"], permissions=["ar:admin"], selected=True)
        return str(person["id"])

    grace = ar_person("grace@example.com")
    client = new_client(OURS_STACK)
    assert_landed(log_in_through_site(client, emulator.mint_token(grace)), "grace")
    ours_pk = int(client.session["_auth_user_id"])
    oidc_pk = user_model.objects.create_user("hedy", email="hedy@example.com").pk
    stock_pk = user_model.objects.create_user("stock").pk

    def stock() -> Login:
        client = new_client(per_request.BASE_MIDDLEWARE)
        return Login(client, "/stock-login/?username=stock", "", stock_pk)

    def ours(mode: str, first: bool) -> Callable[[], Login]:
        def prepare() -> Login:
            use_mode(mode)
            email = f"ar{next(numbers)}@example.com" if first else "grace@example.com"
            token = emulator.mint_token(ar_person(email) if first else grace)
            url = "/login/?" + urlencode({"token": token})
            client = new_client(OURS_STACK)
            start_login(client)  # as a browser: the login started here (its marker)
            return Login(client, url, email, None if first else ours_pk)

        return prepare

    def oidc(static_key: bool, first: bool) -> Callable[[], Login]:
        def prepare() -> Login:
            settings.OIDC_RP_IDP_SIGN_KEY = standin.key.public_key_pem if static_key else None
            email = f"oidc{next(numbers)}@example.com" if first else "hedy@example.com"
            client = new_client(OIDC_STACK)
            response = client.get("/oidc/authenticate/")
            url = "/oidc/callback/?" + urlencode(standin.authorize(response["Location"], email))
            return Login(client, url, email, None if first else oidc_pk)

        return prepare

    return [
        Contender("Django `auth.login()`, verifying nothing (floor)", stock),
        Contender(OURS_JWT, ours("jwt", first=False)),
        Contender(OURS_API, ours("api", first=False)),
        Contender(JWKS, oidc(static_key=False, first=False)),
        Contender(STATIC, oidc(static_key=True, first=False)),
        Contender(OURS_JWT + FIRST, ours("jwt", first=True)),
        Contender(JWKS + FIRST, oidc(static_key=False, first=True)),
    ]


def run_login(
    contender: Contender, emulator: Any, standin: OIDCStandIn, *, count_queries: bool = False
) -> float:
    """Prepare, time the one request, check who it logged in; its time."""
    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login = contender.prepare()
    emulator.clear_requests()
    standin.log.clear()
    in_calls: list[float] = []
    with (
        CaptureQueriesContext(connection) if count_queries else nullcontext() as queries,
        calls_timed(in_calls),
    ):
        start = time.perf_counter()
        response = login.client.get(login.url)
        elapsed = time.perf_counter() - start
    contender.in_calls.append(sum(in_calls))
    if queries is not None:
        sql = [query["sql"].split(None, 1)[0] for query in queries.captured_queries]
        writes = sum(verb in ("INSERT", "UPDATE", "DELETE") for verb in sql)
        contender.queries = f"{len(sql) - sql.count('BEGIN') - sql.count('COMMIT')} ({writes})"
    contender.calls.append(len(emulator.requests) + len(standin.log.entries()))
    assert_landed(response, contender.name)
    user_pk = int(login.client.session[SESSION_KEY])
    if login.user_pk is not None:
        assert user_pk == login.user_pk, contender.name
    else:  # a new user: the right one; dropped so that the table stays the same size
        user = get_user_model().objects.get(pk=user_pk)
        assert user.email == login.email, (contender.name, user.email)
        user.delete()
    return elapsed


@contextmanager
def calls_timed(into: list[float]) -> Iterator[None]:
    """Appends to ``into`` the time of each Get Session call made meanwhile: the call a login
    makes, timed inside it, to compare with the round trip timed alone (a wrapper that times
    and passes everything through; nothing else changes)."""
    from django_authrocket.client import AuthRocketClient

    original = AuthRocketClient.get_session

    def timed(self: AuthRocketClient, id_or_token: str) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            return original(self, id_or_token)
        finally:
            into.append(time.perf_counter() - start)

    AuthRocketClient.get_session = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        AuthRocketClient.get_session = original  # type: ignore[method-assign]


def time_logins(
    contenders: list[Contender], rounds: int, emulator: Any, standin: OIDCStandIn
) -> tuple[list[float], list[float]]:
    """Interleaved single logins of every contender; returns the loopback round trip of each
    round: the Get Session call an api-mode login makes, alone (by a fresh login token, minted
    untimed, as the login asks: not by session id, which has the emulator sign a new token
    for its answer, work the login's call does not cause), through the same shared client and
    its kept-alive connection; and :func:`time_two_modes`' ratios."""
    from django_authrocket.client import AuthRocketClient

    # As the logins' person: one org, selected (an answer of the same size to build and read).
    person = emulator.create_user("rtt@example.com", first_name="Rtt")
    org = emulator.create_org("Round Trips")
    emulator.create_membership(person["id"], org["id"], permissions=["ar:admin"], selected=True)
    client = AuthRocketClient.from_settings()

    def round_trip() -> float:
        token = emulator.mint_token(person["id"])
        start = time.perf_counter()
        client.get_session(token)
        return time.perf_counter() - start

    round_trip()
    trips = []
    for contender in contenders:  # warm-up (keys, connections, caches), counting the queries
        run_login(contender, emulator, standin, count_queries=True)
        contender.calls.clear()
        contender.in_calls.clear()
    order = random.Random(16)  # a new order every round, the same every run: see middleware.py
    shuffled = list(contenders)
    for _ in range(rounds):
        order.shuffle(shuffled)
        for contender in shuffled:
            contender.samples.append(run_login(contender, emulator, standin))
        trips.append(round_trip())
    return trips, time_two_modes(contenders, rounds, emulator, standin, round_trip)


def time_two_modes(
    contenders: list[Contender],
    rounds: int,
    emulator: Any,
    standin: OIDCStandIn,
    round_trip: Callable[[], float],
) -> list[float]:
    """Target 2's api-mode figure again, with nothing else in the rounds: a jwt-mode login,
    an api-mode login and a round trip, in turn. Each round's (api - jwt) / round trip.

    Read beside the shuffled rounds, not instead of them: another order (the jwt-mode login
    always follows the round before's round trip) and another statistic (the median of the
    per-round ratios, each over its own round trip)."""
    by = {c.name: c for c in contenders}
    jwt, api = (Contender(name, by[name].prepare) for name in (OURS_JWT, OURS_API))
    ratios = []
    for _ in range(rounds):
        took_jwt = run_login(jwt, emulator, standin)
        took_api = run_login(api, emulator, standin)
        ratios.append((took_api - took_jwt) / round_trip())
    return ratios


def goals(
    contenders: list[Contender],
    trips: list[float],
    two_modes: list[float],
    samples: per_request.Timings,
) -> list[str]:
    """Issue 16's targets 1-3, each ratio next to its goal (one run: read them with the noise)."""
    by = {c.name: c.samples for c in contenders}
    floor = contenders[0].samples
    extra = statistics.median(a - j for a, j in zip(by[OURS_API], by[OURS_JWT], strict=True))
    trip = statistics.median(trips)
    api = next(c for c in contenders if c.name == OURS_API)
    in_call = statistics.median(api.in_calls)
    # What an api-mode login adds besides its call: reading the answer, and the rest of the
    # login (the same code as jwt mode's, with a larger record) run after the call.
    besides = statistics.median(
        a - c - j for a, c, j in zip(by[OURS_API], api.in_calls, by[OURS_JWT], strict=True)
    )
    rows = list(samples)
    return [
        "| target | measured | goal |",
        "| --- | ---: | ---: |",
        f"| 1 returning login, jwt mode / floor | {paired(by[OURS_JWT], floor):.2f}x | <= 1.25x |",
        f"| 2 first login, jwt mode / floor | {paired(by[OURS_JWT + FIRST], floor):.2f}x "
        "| <= 1.6x |",
        f"| 2 api-mode login - jwt-mode login, in loopback round trips ({extra * 1e3:.2f} ms / "
        f"{trip * 1e3:.2f} ms) | {extra / trip:.2f} | <= 1 |",
        f"| 2 (read with it) the api-mode login's own Get Session call, timed inside it, in "
        f"round trips; what the login adds besides the call (api - jwt - call) "
        f"| {in_call / trip:.2f}; {besides * 1e3:.2f} ms | |",
        "| 2 (read with it) api-mode login - jwt-mode login, in round trips, the two modes "
        f"alone in turn | {statistics.median(two_modes):.2f} | |",
        f"| 3 warm request, jwt mode / stock | {samples.ratio(rows[1]):.3f}x | <= 1.01x |",
        f"| 3 warm request, api mode / stock | {samples.ratio(rows[2]):.3f}x | <= 1.015x |",
    ]


def oidc_login(standin: OIDCStandIn) -> Callable[[Any, Any], None]:
    """Logs a client in through mozilla-django-oidc's authenticate view and callback."""

    def log_in(client: Any, user: Any) -> None:
        response = client.get("/oidc/authenticate/")
        query = standin.authorize(response["Location"], user.email)
        assert_landed(client.get("/oidc/callback/?" + urlencode(query)), user.email)
        assert int(client.session["_auth_user_id"]) == user.pk  # found by email: the same row

    return log_in


# --- output ---------------------------------------------------------------------------------


def paired(a: list[float], b: list[float]) -> float:
    """The median of the per-round ratios a/b."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def login_tables(contenders: list[Contender]) -> list[str]:
    floor = contenders[0].samples
    lines = [
        "| login completion | HTTP calls | queries (writes) | median | ratio to the floor |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for c in contenders:
        lines.append(
            f"| {c.name} | {statistics.median(c.calls):g} | {c.queries} "
            f"| {statistics.median(c.samples) * 1e3:.2f} ms | {paired(c.samples, floor):.2f}x |"
        )
    by = {c.name: c.samples for c in contenders}
    pairs = [(OURS_JWT, JWKS), (OURS_JWT, STATIC), (OURS_API, JWKS), (OURS_API, STATIC)]
    lines += ["", "| login, ours / mozilla-django-oidc | ratio |", "| --- | ---: |"]
    for ours, theirs in [*pairs, (OURS_JWT + FIRST, JWKS + FIRST)]:
        short = theirs.removeprefix("mozilla-django-oidc, ")
        lines.append(f"| {ours} / {short} | {paired(by[ours], by[theirs]):.2f}x |")
    return lines


def request_table(samples: per_request.Timings) -> list[str]:
    theirs = per_request.OIDC_ROW
    lines = [
        "| per request, `@login_required` view | median | ratio to stock "
        "| ratio to row 4, mozilla-django-oidc |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, times in samples.items():
        lines.append(
            f"| {name} | {statistics.median(times) * 1e6:.0f} µs "
            f"| {samples.ratio(name):.3f}x | {samples.ratio(name, theirs):.3f}x |"
        )
    return lines


def machine(*, with_commit: bool = True) -> str:
    """The machine, Python, the packages and (for the terminal, not the docs) the commit."""
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model n")]
        cpu = f" ({names[0]})" if names else ""
    packages = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    git = ["git", "-C", str(per_request.ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changes = subprocess.run(
        [*git, "status", "--porcelain", "django_authrocket"], capture_output=True, text=True
    )
    at = f" at commit {commit.stdout.strip()}" if with_commit and commit.returncode == 0 else ""
    if at and changes.stdout.strip():
        at += " with uncommitted changes to django_authrocket/"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores{cpu}, "
        f"Python {platform.python_version()}; {packages}{at}"
    )


def write_docs(text: str) -> None:
    """Replace what stands between the markers in docs/performance.md (or append a section)."""
    page = DOCS_PAGE.read_text()
    block = f"{START}\n{text}\n{END}"
    if START in page and END in page:
        pattern = re.escape(START) + ".*?" + re.escape(END)
        page = re.sub(pattern, lambda _: block, page, count=1, flags=re.DOTALL)
    else:
        page = page.rstrip("\n") + f"\n\n## Peer benchmark: mozilla-django-oidc\n\n{block}\n"
    DOCS_PAGE.write_text(page)


def main() -> None:
    quick = "--quick" in sys.argv
    users = int(sys.argv[sys.argv.index("--users") + 1]) if "--users" in sys.argv else 0
    login_rounds, request_rounds = (100, 300) if quick else (1000, 3000)
    configure(users)

    from django.conf import settings

    from django_authrocket.conf import reload
    from django_authrocket.testing import AuthRocketEmulator

    started = time.perf_counter()
    with AuthRocketEmulator() as emulator, OIDCStandIn() as standin:
        for name, value in {**emulator.settings(), **standin.settings()}.items():
            setattr(settings, name, value)
        reload()
        contenders = make_contenders(emulator, standin)
        trips, two_modes = time_logins(contenders, login_rounds, emulator, standin)
        settings.OIDC_RP_IDP_SIGN_KEY = None
        samples = per_request.time_stacks(
            emulator, request_rounds, have_oidc=True, oidc_login=oidc_login(standin)
        )
    seconds = time.perf_counter() - started

    command = COMMAND + (" --quick" if quick else "") + (f" --users {users}" if users else "")
    filler = f", {users:,} other users in the table" if users else ""

    def report(place: str) -> str:
        return "\n".join(
            [
                f"`{command}`: {login_rounds:,} rounds of logins and {request_rounds:,} rounds of "
                f"requests{filler}, {seconds:.0f} s. {place}.",
                "",
                *login_tables(contenders),
                "",
                *request_table(samples),
                "",
                *goals(contenders, trips, two_modes, samples),
            ]
        )

    print(report(machine()))
    if "--write-docs" in sys.argv:
        write_docs(report(machine(with_commit=False)))  # the docs state what is, not when
        print(f"(written to {DOCS_PAGE.relative_to(per_request.ROOT)})")


urlpatterns: list[object] = []

if __name__ == "__main__":
    main()
