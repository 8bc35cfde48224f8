"""Django settings for the test suite.

SQLite + LocMem by default. The PostgreSQL + Redis job sets DATABASE_URL and CACHE_URL.
"""

from __future__ import annotations

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_authrocket",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_authrocket.middleware.AuthRocketMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not shared-cache memory, so tests with concurrent threads get real locking;
    # IMMEDIATE transactions make concurrent writers queue instead of failing.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"authrocket-tests-{os.getpid()}.sqlite3")
    }
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
else:
    # Some tests start another pytest process (a swapped user model, the pytest plugin): each
    # process gets its own test database instead of dropping its parent's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://authrocket-tests"),
}


def worker_redis_url(location: object, worker: int, *, taken: str = "") -> str:
    """The Redis URL of xdist worker ``worker``: the ``worker``-th database from the URL's
    own, skipping the one ``taken`` names on the same server (the shared-cache tests'). The
    emulator fixture clears the cache, and Redis clears a whole database (FLUSHDB), whatever a
    key prefix says: each worker needs a database of its own."""
    parts = urlsplit(location) if isinstance(location, str) else None
    database = parts.path.strip("/") if parts is not None else ""
    if parts is None or parts.scheme not in ("redis", "rediss") or not (database or "0").isdigit():
        raise ImproperlyConfigured(
            f"with pytest-xdist, CACHE_URL must be one redis:// server and database, not "
            f"{location!r}: each worker needs a database of its own (or run on one worker)"
        )
    other = urlsplit(taken) if taken else None
    skipped = (
        int(other.path.strip("/") or 0)
        if other is not None and other.netloc == parts.netloc and other.path.strip("/").isdigit()
        else None
    )
    free = [number for number in range(int(database or 0), 16) if number != skipped]
    if worker >= len(free):
        raise ImproperlyConfigured(
            f"xdist worker {worker} has no Redis database left of the 16 (from {database or 0}, "
            "without the shared-cache tests' one): run fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{free[worker]}"))


if CACHES["default"]["BACKEND"].endswith("RedisCache") and os.environ.get("PYTEST_XDIST_WORKER"):
    CACHES["default"]["LOCATION"] = worker_redis_url(
        CACHES["default"]["LOCATION"],
        int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw")),
        taken=os.environ.get("AUTHROCKET_REDIS_URL", ""),
    )

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGINROCKET_URL_PLACEHOLDER = "https://example.e2.loginrocket.com"
AUTHROCKET_LOGINROCKET_URL = LOGINROCKET_URL_PLACEHOLDER

AUTHENTICATION_BACKENDS = [
    "django_authrocket.backends.AuthRocketBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "authrocket:login"
LOGIN_REDIRECT_URL = "/public/"
LOGOUT_REDIRECT_URL = "/public/"

# The test site's JSON API takes Authorization: Bearer (the middleware ignores it elsewhere).
AUTHROCKET_BEARER_URLS = [r"^api/"]
