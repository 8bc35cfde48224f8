"""What AuthRocketMiddleware adds to a ``@login_required`` request, against the stock stack.

In one process, alternating single requests between the stacks (so machine noise hits all of
them alike), it times a trivial ``@login_required`` view through:

1. Django's stock session + auth middleware (the baseline);
2. the same plus AuthRocketMiddleware, jwt mode;
3. the same plus AuthRocketMiddleware, api mode, inside the recheck interval (warm);
4. the same plus mozilla-django-oidc's ``SessionRefresh`` with a fresh ID token, when that
   package is installed (``make bench`` installs it; the package itself never depends on it).

and prints the median of the per-round ratios to 1, with a noise-floor row (a second stock
client) and issue 16's target 3 next to each mode's ratio. It also prints what re-verifying the
stored token on every request would cost, the reason the jwt-mode path compares a number
instead.

``--decompose`` adds two rows that split the jwt-mode ratio into what our login's session data,
a do-nothing middleware layer and AuthRocketMiddleware's own work each cost.

    .venv/bin/python benchmarks/middleware.py [--quick] [--seed=N] [--decompose]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
OURS = "django_authrocket.middleware.AuthRocketMiddleware"
OIDC = "mozilla_django_oidc.middleware.SessionRefresh"
OIDC_BACKEND = "mozilla_django_oidc.auth.OIDCAuthenticationBackend"
OIDC_ROW = "4 + mozilla-django-oidc"
CONTROL = "1c stock again (noise floor)"
SESSION_DATA = "1b stock + our session data"
IDLE_LAYER = "1d + do-nothing layer, our login"


class DoNothing:
    """A middleware in AuthRocketMiddleware's place that does nothing but set the attribute ours
    sets: with ``--decompose``, what a layer and our login's session cost without our work."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request.authrocket = None
        return self.get_response(request)


def configure(**overrides: object) -> bool:
    """Configure Django for the benchmark (``overrides`` added or replaced); True with OIDC."""
    import django
    from django.conf import settings

    try:
        import mozilla_django_oidc  # noqa: F401

        have_oidc = True
    except ImportError:
        have_oidc = False
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django_authrocket",
            *(["mozilla_django_oidc"] if have_oidc else []),
        ],
        MIDDLEWARE=BASE_MIDDLEWARE,
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(tempfile.mkdtemp(), "bench.sqlite3"),
            }
        },
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        AUTHENTICATION_BACKENDS=[
            "django_authrocket.backends.AuthRocketBackend",
            *([OIDC_BACKEND] if have_oidc else []),
            "django.contrib.auth.backends.ModelBackend",
        ],
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        LOGIN_URL="authrocket:login",
        # mozilla-django-oidc's settings, equivalent to ours (it never calls out while the ID
        # token is fresh, as ours does not inside the recheck interval).
        OIDC_OP_AUTHORIZATION_ENDPOINT="https://op.example/authorize",
        OIDC_RP_CLIENT_ID="bench",
        OIDC_RP_CLIENT_SECRET="bench",
        OIDC_OP_TOKEN_ENDPOINT="https://op.example/token",
        OIDC_OP_USER_ENDPOINT="https://op.example/userinfo",
        OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS=900,
    )
    for name, value in overrides.items():
        setattr(settings, name, value)
    django.setup()
    return have_oidc


def view(request):  # type: ignore[no-untyped-def]
    from django.http import HttpResponse

    return HttpResponse("ok")


def _urlpatterns():  # type: ignore[no-untyped-def]
    from django.apps import apps
    from django.contrib.auth.decorators import login_required
    from django.urls import include, path

    patterns = [path("", login_required(view)), path("", include("django_authrocket.urls"))]
    if apps.is_installed("mozilla_django_oidc"):  # SessionRefresh reverses its URLs
        patterns.append(path("oidc/", include("mozilla_django_oidc.urls")))
    return patterns


def time_stacks(
    emulator: Any,
    rounds: int,
    *,
    have_oidc: bool,
    oidc_login: Callable[[Any, Any], None] | None = None,
    control: bool = bool(os.environ.get("BENCH_CONTROL")),
    decompose: bool = False,
    seed: int | None = None,
) -> Timings:
    """Per-request times of each stack, interleaved; the first stack is the baseline.

    ``oidc_login(client, user)`` logs the ``SessionRefresh`` client in as ``user`` through
    mozilla-django-oidc's callback (benchmarks/peers.py has a provider for it); without it, the
    client gets what that callback leaves in the session: its backend's login and a fresh ID
    token expiry.

    Needs Django configured by :func:`configure`, migrated, with ``urlpatterns`` serving
    :func:`view` at ``/`` and the emulator's settings applied. Times the jwt-mode stacks, then
    the api-mode one, each phase with the stock stack again. Leaves api mode switched on.

    ``decompose`` adds two jwt-phase rows that split the jwt-mode ratio: the stock stack
    carrying the session data our login leaves, and a middleware that does nothing in our
    middleware's place, logged in through our login.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils.crypto import get_random_string

    from django_authrocket.conf import reload as reload_settings
    from django_authrocket.testing import log_in_through_site

    person = emulator.create_user("ada@example.com", first_name="Ada", username="ada")
    org = emulator.create_org("Engines")
    emulator.create_membership(person["id"], org["id"], permissions=["ar:admin"], selected=True)

    def client_with(middleware: list[str]) -> Client:
        settings.MIDDLEWARE = middleware
        client = Client()
        client.get("/public-warmup/")  # builds this client's middleware chain now
        # Every browser carries a CSRF cookie after logging in (Django's login() rotates it,
        # as ours does). force_login() skips that, so give each client one: the stacks then
        # differ only by their middleware, not by the cookies they parse.
        client.cookies[settings.CSRF_COOKIE_NAME] = get_random_string(32)
        return client

    def drop_expired(client: Client) -> None:
        # What a browser does and Django's test client does not: forget a cookie the site
        # expired (the login marker, after the login), and send a cookie only below its path
        # (the browser id lives at the login view, the timed requests ask for "/").
        for name, morsel in list(client.cookies.items()):
            if str(morsel["max-age"]) == "0" or (morsel["path"] or "/") != "/":
                del client.cookies[name]

    jwt_client = client_with([*BASE_MIDDLEWARE, OURS])
    assert log_in_through_site(jwt_client, emulator.mint_token(person["id"])).status_code == 302
    drop_expired(jwt_client)
    # Every stack serves the same user row (a user who never logged in has no last_login to
    # parse, a few microseconds less per request): only the middleware differs.
    local = get_user_model().objects.get(username="ada")

    stacks: dict[str, tuple[Client, str]] = {}
    stock = client_with(BASE_MIDDLEWARE)
    stock.force_login(local, backend="django.contrib.auth.backends.ModelBackend")
    stacks["1 stock session+auth"] = (stock, "jwt")
    stacks["2 + AuthRocket, jwt"] = (jwt_client, "jwt")

    if decompose:  # logged in while in jwt mode: the session data of a jwt-mode login
        fat = client_with(BASE_MIDDLEWARE)
        fat.force_login(local, backend="django.contrib.auth.backends.ModelBackend")
        session = fat.session
        session.update({k: v for k, v in jwt_client.session.items() if k.startswith("_authrocket")})
        session.save()
        stacks[SESSION_DATA] = (fat, "jwt")
        idle = client_with([*BASE_MIDDLEWARE, f"{__name__}.{DoNothing.__name__}"])
        assert log_in_through_site(idle, emulator.mint_token(person["id"])).status_code == 302
        drop_expired(idle)
        stacks[IDLE_LAYER] = (idle, "jwt")

    settings.AUTHROCKET_VERIFY = "api"
    reload_settings()
    api_client = client_with([*BASE_MIDDLEWARE, OURS])
    assert log_in_through_site(api_client, emulator.mint_token(person["id"])).status_code == 302
    drop_expired(api_client)
    stacks["3 + AuthRocket, api (warm)"] = (api_client, "api")

    if control:
        twin = client_with(BASE_MIDDLEWARE)
        twin.force_login(local, backend="django.contrib.auth.backends.ModelBackend")
        stacks[CONTROL] = (twin, "jwt")

    if have_oidc:
        oidc = client_with([*BASE_MIDDLEWARE, OIDC])
        if oidc_login is not None:
            oidc_login(oidc, local)
        else:  # SessionRefresh checks nothing for a session of another backend
            oidc.force_login(local, backend=OIDC_BACKEND)
            session = oidc.session
            session["oidc_id_token_expiration"] = time.time() + 3600
            session.save()
        stacks[OIDC_ROW] = (oidc, "jwt")

    for client, mode in stacks.values():  # every stack answers 200 before timing
        settings.AUTHROCKET_VERIFY = mode
        reload_settings()
        assert client.get("/").status_code == 200

    # One phase per mode, each timing its stacks with the stock stack again: a real deployment
    # never switches modes, and a switch between two timed requests (settings read again,
    # another code path warmed) moved the ratios by a percent or more.
    seed = random.randrange(10**6) if seed is None else seed  # printed: a run can be repeated
    stock_name = next(iter(stacks))
    phases: dict[str, tuple[list[float], list[float], str]] = {}  # name: (own, stock's, mode)
    floors: dict[str, float] = {}
    for mode in ("jwt", "api"):
        names = [stock_name, *(n for n, (_, m) in stacks.items() if m == mode and n != stock_name)]
        if mode == "api" and CONTROL in stacks:
            names.append(CONTROL)  # each phase its own noise floor
        settings.AUTHROCKET_VERIFY = mode
        reload_settings()
        phase = _time_phase({name: stacks[name][0] for name in names}, rounds, seed)
        for name in names if mode == "jwt" else names[1:]:
            if mode == "jwt" or name != CONTROL:
                phases[name] = (phase[name], phase[stock_name], mode)
        if CONTROL in phase:
            floors[mode] = _paired(phase[CONTROL], phase[stock_name])
    timings = Timings({name: phases[name] for name in stacks}, floors)
    timings.seed = seed
    return timings


class Timings(dict[str, list[float]]):
    """Per-request times by stack, each paired with the stock stack's times of its own phase:
    ratios come from :meth:`ratio`, never from rounds of another phase."""

    def __init__(
        self,
        phases: dict[str, tuple[list[float], list[float], str]],
        floors: dict[str, float] | None = None,
    ) -> None:
        super().__init__({name: own for name, (own, _, _) in phases.items()})
        self.stock_of = {name: stock for name, (_, stock, _) in phases.items()}
        self.phase_of = {name: mode for name, (_, _, mode) in phases.items()}
        #: Each phase's noise floor: the second stock client to the first (with BENCH_CONTROL).
        self.floors = floors or {}
        #: The seed of the rounds' orders.
        self.seed = 0

    def ratio(self, name: str, to: str | None = None) -> float:
        """The median of per-round ratios of ``name`` to the stock stack (or to stack ``to``:
        paired when both were timed in one phase, else the quotient of their stock ratios)."""
        if to is None:
            return _paired(self[name], self.stock_of[name])
        if self.phase_of[name] == self.phase_of[to]:
            return _paired(self[name], self[to])
        return self.ratio(name) / self.ratio(to)


def _paired(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def _time_phase(clients: dict[str, Any], rounds: int, seed: int) -> dict[str, list[float]]:
    """Interleaved single requests in a new random order every round, every stack's timed
    request following an untimed one of its own.

    Not a rotation: a rotation keeps every stack's predecessor (the first stack always follows
    the last), and what ran just before moves a request's time by a percent here: a second
    stock client, always after the first, read 0.984-0.991x of it; shuffled, each stack
    follows every other alike."""
    samples: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    order = random.Random(seed)  # an order, not a secret
    for _ in range(rounds):
        order.shuffle(names)
        for name in names:
            client = clients[name]
            client.get("/")
            start = time.perf_counter()
            client.get("/")
            samples[name].append(time.perf_counter() - start)
    return samples


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 300 if quick else 3000
    have_oidc = configure()
    global urlpatterns
    urlpatterns = _urlpatterns()

    from django.conf import settings
    from django.core.management import call_command

    from django_authrocket.conf import reload as reload_settings
    from django_authrocket.testing import AuthRocketEmulator
    from django_authrocket.tokens import verify_token

    call_command("migrate", verbosity=0)

    with AuthRocketEmulator() as emulator:
        for name, value in emulator.settings().items():
            setattr(settings, name, value)
        reload_settings()
        seed = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--seed=")), None)
        decompose = "--decompose" in sys.argv
        samples = time_stacks(
            emulator, rounds, have_oidc=have_oidc, control=True, decompose=decompose, seed=seed
        )
        names = list(samples)

        print(f"{'stack':32} {'median':>10} {'ratio to 1':>11}")
        ratio = {}
        for name in names:
            ratio[name] = samples.ratio(name)
            print(f"{name:32} {statistics.median(samples[name]) * 1e6:8.0f}us {ratio[name]:10.3f}x")
        for label, name, goal, mode in (
            ("jwt mode", "2 + AuthRocket, jwt", 1.01, "jwt"),
            ("api mode (warm)", "3 + AuthRocket, api (warm)", 1.015, "api"),
        ):
            print(
                f"TARGET 3 warm request, {label}: {ratio[name]:.3f}x (goal <= {goal}x; "
                f"the noise floor of its phase reads {samples.floors[mode]:.3f}x)"
            )
        if decompose:
            jwt = "2 + AuthRocket, jwt"
            print(
                f"jwt mode's {ratio[jwt] - 1:+.2%}: the session data our login leaves, alone, "
                f"{ratio[SESSION_DATA] - 1:+.2%} (1b); with a do-nothing layer in our "
                f"middleware's place {ratio[IDLE_LAYER] - 1:+.2%} (1d); AuthRocketMiddleware's "
                f"own work over that {samples.ratio(jwt, IDLE_LAYER) - 1:+.2%} (2 over 1d)"
            )
        print(f"(rounds ordered with seed {samples.seed})")
        if not have_oidc:
            print("(mozilla-django-oidc not installed: `make bench` installs it for row 4)")

        token = emulator.mint_token(emulator.get_user("ada@example.com")["id"])
        settings.AUTHROCKET_VERIFY = "jwt"
        reload_settings()
        verify_token(token)
        n = 500 if quick else 3000
        start = time.perf_counter()
        for _ in range(n):
            verify_token(token)
        per_verify = (time.perf_counter() - start) / n
        request = statistics.median(samples[names[1]])
        print(
            f"re-verifying the stored token per request would add {per_verify * 1e6:.0f}us "
            f"({per_verify / request:.0%} of a request); jwt mode compares the stored expiry"
        )


urlpatterns: list[object] = []

if __name__ == "__main__":
    main()
