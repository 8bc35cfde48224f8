"""The webhook endpoint: AuthRocket events in, mirror updates and single sign-out out.

AuthRocket signs nothing. What protects ``POST /webhook/<secret>/``:

* the secret in the URL (``AUTHROCKET_WEBHOOK_SECRET``, compared in constant time). A wrong
  secret, or none configured, answers 404 like any unknown URL, so the endpoint's existence
  does not leak;
* optionally HTTP basic auth (``AUTHROCKET_WEBHOOK_BASIC_AUTH``);
* optionally (on by default with an API key) the event is fetched again by id through the Core
  API, and that copy is used instead of the body (``AUTHROCKET_WEBHOOK_REFETCH``);
* and the body is never trusted for data: an event that changes the mirror makes us read the
  object through the Core API and write what it says.

What each event type does is decided in one place, the table in
:mod:`django_authrocket.webhook_events`. Only the types that change the mirror, and
``session.deleted``, are fetched again or read anything; every other type, and a type nobody
has heard of, is recorded and signalled at no Core API cost.

AuthRocket retries any non-2xx answer for about two days, so every event type is answered 2xx
(a 400 is kept for a body that is not an event, or an event AuthRocket does not know or that
lacks the id its type needs), and handling is idempotent by event id
(:class:`~django_authrocket.models.AuthRocketWebhookEvent`): a redelivery answers 200 and does
nothing. Everything an event changes is written in one transaction, together with its record.
A Core API outage answers 503, so AuthRocket delivers the event again later.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from . import recheck, resync, signout
from . import webhook_events as table
from .client import AuthRocketClient
from .conf import app_settings
from .exceptions import APIError, NotFound
from .identity import is_authrocket_id
from .mirror.fields import api_datetime
from .models import AuthRocketWebhookEvent
from .signals import authrocket_event

logger = logging.getLogger("django_authrocket.webhooks")

#: Largest body accepted; an event is a few hundred bytes.
MAX_BODY_BYTES: Final = 256 * 1024
#: How many unknown event types one process logs at INFO (each once); later ones only at DEBUG,
#: so a flood of made-up types cannot grow the memory or the log without bound.
MAX_UNKNOWN_TYPES_LOGGED: Final = 100
#: Recorded as the type when the Core API's copy of an event has no readable ``event_type``.
UNREADABLE_TYPE: Final = "unreadable"

_unknown_types_logged: set[str] = set()
_unknown_types_lock = threading.Lock()


#: An event type: dotted lower-case words, at most 64 characters (the record's column).
_EVENT_TYPE = re.compile(r"(?=.{1,64}\Z)[a-z0-9_]+(?:\.[a-z0-9_]+){0,4}")


class BadEvent(Exception):
    """The body is not an AuthRocket event we can handle: answered 400 with this reason."""


@dataclass(frozen=True)
class Event:
    """The parts of an event the endpoint uses (the whole dict is in ``data``)."""

    id: str
    type: str
    data: Mapping[str, Any]

    def object_id(self, name: str) -> str:
        """``user_id``, ``org_id``... of the event; BadEvent when missing or malformed."""
        value = self.data.get(name)
        if not is_authrocket_id(value):  # control characters, NUL: a bad event
            raise BadEvent(f"a {self.type} event needs '{name}' (an AuthRocket id)")
        return value


def _unexpected_errors_logged_here(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Log an unexpected exception here and answer 500 (AuthRocket delivers the event again).

    Left to Django, the exception would be logged (and mailed to ADMINS) with the request path,
    which holds the webhook secret. ``Http404`` (a wrong secret) still goes to Django.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404:
            raise
        except Exception:
            logger.exception("AuthRocket webhook failed; AuthRocket will deliver it again")
            return _error(500, "the event could not be handled; deliver again later")

    return wrapper


@_unexpected_errors_logged_here
@sensitive_variables("secret")
@csrf_exempt  # AuthRocket's servers post here: no CSRF token; the secret authenticates them.
@never_cache
@login_not_required
def webhook(request: HttpRequest, secret: str) -> HttpResponse:
    """Receive one AuthRocket event (``POST /webhook/<secret>/``)."""
    if not _secret_matches(secret):
        raise Http404  # the same answer as any unknown URL: existence does not leak
    if request.method != "POST":
        logger.warning("AuthRocket webhook refused a %s request", (request.method or "")[:10])
        return _unlogged(HttpResponseNotAllowed(["POST"]))
    if not _basic_auth_matches(request):
        logger.warning("AuthRocket webhook refused: wrong or missing HTTP basic auth")
        response = _error(401, "HTTP basic auth credentials are missing or wrong")
        response["WWW-Authenticate"] = 'Basic realm="AuthRocket webhook", charset="UTF-8"'
        return response
    body = _read_body(request)
    if body is None:
        logger.warning("AuthRocket webhook refused: the body is too large")
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        event = parse_event(body)
        action = table.action_for(event.type, event.data)
        if action is table.PONG:
            return JsonResponse({"ok": True, "event": event.id, "outcome": "pong"})
        if AuthRocketWebhookEvent.objects.filter(event_id=event.id).exists():
            return _replayed(event)
        if action.calls_core_api:  # the others cost nothing: no re-fetch either
            event, action = _trusted(event, action)
        snapshot = _read_upstream(event, action)
    except BadEvent as exc:
        logger.warning("AuthRocket webhook refused: %s", exc)
        return _error(400, str(exc))
    except APIError as exc:
        logger.warning("AuthRocket webhook: Core API unavailable (%s); AuthRocket will retry", exc)
        return _error(503, "the AuthRocket Core API could not be reached; deliver again later")
    return _process(event, action, snapshot)


def parse_event(body: bytes) -> Event:
    """The event in a webhook body; BadEvent with the reason when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadEvent("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadEvent("the body is not a JSON object")
    event_id, event_type = data.get("id"), data.get("event_type")
    if not is_authrocket_id(event_id):
        raise BadEvent("not an AuthRocket event: 'id' is missing or not an AuthRocket id")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise BadEvent("not an AuthRocket event: 'event_type' is missing or malformed")
    if data.get("object", "event") != "event":
        raise BadEvent("not an AuthRocket event: 'object' is not 'event'")
    return Event(event_id, event_type, data)


# --- who may post -----------------------------------------------------------------------------


@sensitive_variables("secret", "configured")
def _secret_matches(secret: str) -> bool:
    configured = app_settings.WEBHOOK_SECRET
    if not configured:
        return False  # no secret, no endpoint
    return hmac.compare_digest(secret.encode(), configured.encode())


@sensitive_variables("configured", "given")
def _basic_auth_matches(request: HttpRequest) -> bool:
    configured = app_settings.WEBHOOK_BASIC_AUTH
    if not configured:
        return True
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, configured.encode())


def _read_body(request: HttpRequest) -> bytes | None:
    """The body, or None when it is larger than :data:`MAX_BODY_BYTES` (read no further)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = request.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


# --- what the event means ---------------------------------------------------------------------


def _refetch_enabled() -> bool:
    configured = app_settings.WEBHOOK_REFETCH
    if configured is None:
        return bool(app_settings.API_KEY and app_settings.URL)
    return bool(configured)


def _api_configured() -> bool:
    return bool(app_settings.API_KEY and app_settings.URL)


#: How each action that reads reads its object through the Core API.
_FETCH: Final[Mapping[table.Action, Callable[[str, AuthRocketClient], resync.Snapshot]]] = {
    table.REREAD_USER: resync.fetch_user,
    table.USER_GONE: resync.fetch_user,
    table.REREAD_ORG: resync.fetch_org,
    table.REREAD_MEMBERSHIP: resync.fetch_membership,
    table.MEMBERSHIP_GONE: resync.fetch_membership,
    table.JOINED_ORG: resync.fetch_membership,
}


def _trusted(event: Event, action: table.Action) -> tuple[Event, table.Action]:
    """The event as the Core API has it, when refetching is on, and what to do with that copy.

    The type is decided again on the copy: a body may say ``user.updated`` about an event that
    AuthRocket calls something else. A copy of an unknown type is acknowledged and ignored.
    """
    if not _refetch_enabled():
        return event, action
    try:
        fetched = AuthRocketClient.from_settings().get_event(event.id)
    except NotFound:
        raise BadEvent(f"AuthRocket does not know event {event.id}") from None
    if fetched.get("id") != event.id or fetched.get("object", "event") != "event":
        raise BadEvent("the Core API answered with another event")
    event_type = fetched.get("event_type")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        event_type = UNREADABLE_TYPE
    trusted = Event(event.id, event_type, fetched)
    action = table.action_for(trusted.type, trusted.data)
    return trusted, table.UNKNOWN if action is table.PONG else action  # ping is never stored


def _read_upstream(event: Event, action: table.Action) -> resync.Snapshot | None:
    """Read what the event concerns through the Core API (None: nothing to read)."""
    if action.reads is None:
        return None
    object_id = event.object_id(action.reads)  # checked now: a bad event stays out of the DB
    if action is table.SIGN_OUT:
        return None
    if not _api_configured():
        # Without an API key nothing can be read: only a deletion, which carries no data but
        # the id of what is gone (and the secret authenticates the sender), can be applied.
        if action is table.USER_GONE:
            return resync.Snapshot(gone_users=[object_id])
        if action is table.MEMBERSHIP_GONE:
            return resync.Snapshot(gone_memberships=[object_id])
        logger.warning("AuthRocket webhook %s ignored: no API key to read it", event.type)
        return None
    return _FETCH[action](object_id, AuthRocketClient.from_settings())


class _Delivered(Exception):
    """The event's record exists: another delivery of it got there first."""


def _process(event: Event, action: table.Action, snapshot: resync.Snapshot | None) -> HttpResponse:
    """Apply the event and record it, in one transaction.

    The record is written first, so a second delivery arriving meanwhile waits on its unique
    event id and then finds it taken; that rolls its whole transaction back (no savepoint)."""
    try:
        with transaction.atomic():
            record = _record(event)
            outcome = _apply(event, action, snapshot)
            record.outcome = outcome[:255]
            record.save(update_fields=["outcome"])
            authrocket_event.send(
                sender=AuthRocketWebhookEvent, event=dict(event.data), event_type=event.type
            )
    except _Delivered:  # the same event, delivered twice at once: the other one won
        return _replayed(event)
    if action is table.UNKNOWN:
        _log_unknown_type_once(event.type)
    # No-ops stay at DEBUG: a busy realm sends one user.login.succeeded per login.
    level = logging.INFO if action.calls_core_api else logging.DEBUG
    logger.log(level, "AuthRocket webhook %s %s: %s", event.type, event.id, outcome)
    return JsonResponse({"ok": True, "event": event.id, "outcome": outcome})


def _record(event: Event) -> AuthRocketWebhookEvent:
    """Insert the event's record; :class:`_Delivered` when its id is taken."""
    try:
        return AuthRocketWebhookEvent.objects.create(
            event_id=event.id,
            event_type=event.type,
            event_at=api_datetime(event.data.get("event_at")),
        )
    except IntegrityError:
        raise _Delivered from None


def _apply(event: Event, action: table.Action, snapshot: resync.Snapshot | None) -> str:
    if action is table.SIGN_OUT:
        session_id = event.object_id("session_id")
        ended = signout.end_sessions_for(session_id)
        recheck.forget(session_id, ended=True)  # workers that cached it as alive
        return f"{ended} Django session(s) ended"
    if action is table.UNKNOWN:
        return "unknown event type: acknowledged and ignored"
    if snapshot is None:
        return "nothing to do"
    return resync.describe(resync.apply(snapshot))


def _log_unknown_type_once(event_type: str) -> None:
    """INFO the first time this process sees an unknown type (a newer AuthRocket family?)."""
    with _unknown_types_lock:
        if event_type in _unknown_types_logged:
            return
        if len(_unknown_types_logged) >= MAX_UNKNOWN_TYPES_LOGGED:
            return
        _unknown_types_logged.add(event_type)
    logger.info(
        "AuthRocket webhook: event type %r is not one this version knows; acknowledged and "
        "ignored (the authrocket_event signal still fires). Logged once per process.",
        event_type,
    )


def _replayed(event: Event) -> HttpResponse:
    return JsonResponse({"ok": True, "event": event.id, "outcome": "already processed"})


def _error(status: int, reason: str) -> HttpResponse:
    return _unlogged(JsonResponse({"ok": False, "error": reason}, status=status))


def _unlogged(response: HttpResponse) -> HttpResponse:
    """Keep Django's ``django.request`` logger from logging this 4xx/5xx answer: its line names
    the request path, which holds the webhook secret. Every caller logs the reason itself."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
