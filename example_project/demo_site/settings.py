"""Settings of the django-authrocket example site, read from the environment (django-environ).

Every variable is listed in ``example_project/.env.example``; a ``.env`` file next to it is read
when present. Without any AuthRocket variable, and with DEBUG on (the default), the site logs in
through the local emulator that ``make demo`` starts on http://127.0.0.1:8765. Set
``LOGINROCKET_URL`` (and, as needed, ``AUTHROCKET_URL``, ``AUTHROCKET_API_KEY``,
``AUTHROCKET_JWT_KEY``, ``AUTHROCKET_REALM``) and the same code talks to your real AuthRocket
realm: django-authrocket reads those variables itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent  # example_project/

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)  # a demo; set DEBUG=false anywhere public
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-example-only" if DEBUG else environ.Env.NOTSET
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_authrocket",
    "demo_site.apps.DemoSiteConfig",
]
if importlib.util.find_spec("rest_framework") is not None:  # the `drf` extra: /api/me/ with DRF
    INSTALLED_APPS.append("rest_framework")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after AuthenticationMiddleware: ends sessions that ended at AuthRocket, accepts
    # Authorization: Bearer tokens, and sets request.authrocket.
    "django_authrocket.middleware.AuthRocketMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django_authrocket.context_processors.authrocket",  # {{ authrocket }}
                "demo_site.context_processors.demo",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://example-site")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- logging in with AuthRocket ----------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django_authrocket.backends.AuthRocketBackend",
    "django.contrib.auth.backends.ModelBackend",  # password logins, e.g. a createsuperuser admin
]
LOGIN_URL = "authrocket:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# Where the middleware accepts Authorization: Bearer <LoginRocket token> (nowhere by default):
# the JSON API. (With DRF installed, /api/me/ lists AuthRocketAuthentication itself.)
AUTHROCKET_BEARER_URLS = [r"^api/"]

# Two ways in: LoginRocket's hosted pages (authrocket:login), and the in-site forms
# (authrocket:form_login: the site's own templates, its server calling the LoginRocket API;
# docs/login-forms.md). LOGIN_FORMS=false leaves only the hosted pages.
AUTHROCKET_LOGIN_FORMS = env.bool("LOGIN_FORMS", default=True)

# How a login is checked: "jwt" (the signature, locally) or "api" (the Core API, which also sees
# sessions ended at AuthRocket, rechecked every AUTHROCKET_RECHECK_INTERVAL seconds). Read here
# because django-authrocket itself takes these two from settings only.
if env.str("AUTHROCKET_VERIFY", default=""):
    AUTHROCKET_VERIFY = env.str("AUTHROCKET_VERIFY")
if env.str("AUTHROCKET_RECHECK_INTERVAL", default=""):
    AUTHROCKET_RECHECK_INTERVAL = env.int("AUTHROCKET_RECHECK_INTERVAL")
# Only for tests that run this site against the emulator with DEBUG off, as a deployment
# (tests/multiprocess_site.py, the load run). Never in production: check authrocket.W020.
if env.bool("AUTHROCKET_ACCEPT_EMULATOR_TOKENS", default=False):
    AUTHROCKET_ACCEPT_EMULATOR_TOKENS = True

#: The emulator ``make demo`` runs (example_project/demo.py), with a fixed, not secret, API key.
#: DEMO_EMULATOR_URL moves it (say, when port 8765 is taken); the browser test uses a free port.
DEMO_EMULATOR_URL = env.str("DEMO_EMULATOR_URL", default="http://127.0.0.1:8765").rstrip("/")
DEMO_EMULATOR_API_KEY = "ks_demo_example_project_not_secret"

#: True while no LoginRocket URL is configured and DEBUG is on: the demo logs in through the
#: emulator. Never with DEBUG off: anyone who runs an emulator on that port could log in as
#: anyone (and the package refuses the emulator's tokens then anyway).
DEMO_USES_EMULATOR = DEBUG and not any(
    env.str(name, default="").strip() for name in ("LOGINROCKET_URL", "AUTHROCKET_LOGIN_URL")
)
if DEMO_USES_EMULATOR:
    # Every realm setting is pinned so stray AUTHROCKET_* variables cannot mix realms.
    # The emulator makes new RSA keys at each start, so tokens are verified with the keys it
    # publishes at /connect/jwks (AUTHROCKET_JWT_KEY None), exactly like a real RS256 realm.
    AUTHROCKET_LOGINROCKET_URL = DEMO_EMULATOR_URL
    AUTHROCKET_URL = f"{DEMO_EMULATOR_URL}/api/v2"
    AUTHROCKET_API_KEY = DEMO_EMULATOR_API_KEY
    AUTHROCKET_REALM = "rl_emulator"
    AUTHROCKET_JWT_KEY = None
# Otherwise django-authrocket reads LOGINROCKET_URL, AUTHROCKET_URL, AUTHROCKET_API_KEY,
# AUTHROCKET_JWT_KEY, AUTHROCKET_REALM and AUTHROCKET_WEBHOOK_SECRET from the environment.

# Staff here (the Django admin) are the members of the site's own staff org whose membership
# there grants AUTHROCKET_STAFF_PERMISSION, whichever org they have selected. An admin of a
# customer's org is not staff here. No staff org: is_staff is left alone. The demo realm's staff
# org has the reference "site-staff" (django_authrocket.testing.demo).
AUTHROCKET_STAFF_ORG = env.list(
    "AUTHROCKET_STAFF_ORG", default=["site-staff"] if DEMO_USES_EMULATOR else []
)
if AUTHROCKET_STAFF_ORG:
    AUTHROCKET_STAFF_PERMISSION = env.str("AUTHROCKET_STAFF_PERMISSION", default="ar:admin")
# Staff join the group "AuthRocket staff" (AUTHROCKET_STAFF_GROUP), which may view the mirrored
# users, orgs and memberships in the admin; its login page offers "Log in with AuthRocket".
# Opt-in (demo_site/apps.py): owners (ar:owner) of the staff org are superusers too. Off, no
# AuthRocket token ever makes a superuser here.
STAFF_ORG_OWNERS_ARE_SUPERUSERS = env.bool("STAFF_ORG_OWNERS_ARE_SUPERUSERS", default=False)

# runserver's request log needs no setup: django-authrocket keeps ?token= values out of it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "short": {"format": "[{asctime}] {levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "short"},
    },
    "loggers": {
        "django_authrocket": {
            "handlers": ["console"],
            "level": env.str("LOG_LEVEL", default="INFO"),
        },
    },
}
