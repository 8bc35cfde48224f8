"""The Core API (``/api/v2/...`` and ``/api/v1/...``): auth, content negotiation, routes."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .api_objects import (
    event_object,
    invitation_object,
    membership_object,
    org_object,
    session_object,
    user_object,
)
from .issuer import TokenIssuer
from .locales import language, translate
from .options import RealmOptions
from .records import USER_STATES, SessionRecord
from .signing import KeyRing
from .store import ORG_SORTS, USER_SORTS, Invalid, NotFound, Store
from .wire import Request, Response, error_response, json_response

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

Handler = Callable[["ApiCall"], Response]


@dataclass(frozen=True)
class ApiCall:
    """A request to one Core API route: the generation (1 or 2) and the path's ``id``."""

    request: Request
    generation: int
    object_id: str | None

    def param(self, name: str) -> str | None:
        """A query parameter, None when absent or empty."""
        return self.request.param(name) or None


class ApiError(Exception):
    """Ends a request with an error response."""

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(*messages)
        self.status = status
        self.messages = messages


class CoreAPI:
    """Answers Core API requests from the store, as AuthRocket does."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        *,
        api_key: str,
        realm_id: str,
        issuer: TokenIssuer | None = None,
        options: RealmOptions | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.api_key = api_key
        self.realm_id = realm_id
        self.issuer = issuer
        self.options = options or RealmOptions()
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"sessions"), {"GET": self.list_sessions, "POST": self.create_session}),
            (
                re.compile(r"sessions/(?P<id>[^/]+)"),
                {"GET": self.get_session, "DELETE": self.delete_session},
            ),
            (re.compile(r"users"), {"GET": self.list_users, "POST": self.create_user}),
            (
                re.compile(r"users/(?P<id>[^/]+)"),
                {
                    "GET": self.get_user,
                    "PUT": self.update_user,
                    "PATCH": self.update_user,
                    "DELETE": self.delete_user,
                },
            ),
            (re.compile(r"orgs"), {"GET": self.list_orgs}),
            (re.compile(r"orgs/(?P<id>[^/]+)"), {"GET": self.get_org}),
            (re.compile(r"memberships"), {"GET": self.list_memberships}),
            (re.compile(r"memberships/(?P<id>[^/]+)"), {"GET": self.get_membership}),
            (re.compile(r"events"), {"GET": self.list_events}),
            (re.compile(r"events/(?P<id>[^/]+)"), {"GET": self.get_event}),
            (re.compile(r"invitations/(?P<id>[^/]+)"), {"GET": self.get_invitation}),
        ]

    def handle(self, request: Request, generation: int, subpath: str) -> Response:
        """Answer a request whose path was ``/api/v<generation>/<subpath>``.

        Error messages follow ``Accept-Language`` where the emulator knows a translation
        (locales.py).
        """
        lang = language(request.header("Accept-Language"))
        try:
            self._authenticate(request, generation)
            self._negotiate(request)
            handler, object_id = self._route(request.method, subpath.strip("/"))
            return handler(ApiCall(request, generation, object_id))
        except ApiError as error:
            return error_response(error.status, *(translate(m, lang) for m in error.messages))
        except NotFound as error:
            return error_response(404, translate(str(error), lang))
        except Invalid as error:
            return error_response(422, translate(str(error), lang))

    # -- the rules every call passes ----------------------------------------------------------

    def _authenticate(self, request: Request, generation: int) -> None:
        realm: str | None
        if generation == 1:
            key = request.header("X-Authrocket-Api-Key")
            realm = request.header("X-Authrocket-Realm")
        else:
            key = request.header("Authrocket-Api-Key")
            realm = request.header("Authrocket-Realm")
            authorization = request.header("Authorization") or ""
            scheme, _, credentials = authorization.partition(" ")
            if key is None and scheme.lower() == "bearer":
                key, _, bearer_realm = credentials.strip().partition(",")
                realm = realm or bearer_realm.strip() or None
        if not key:
            header = "X-Authrocket-Api-Key" if generation == 1 else "Authrocket-Api-Key"
            raise ApiError(403, f"API key missing: send it in the {header} header")
        if not hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise ApiError(403, "Invalid API key")
        if realm is not None and realm != self.realm_id:
            raise ApiError(403, "Realm is not accessible with this API key")

    @staticmethod
    def _negotiate(request: Request) -> None:
        accept = request.header("Accept") or ""
        media_types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        if "application/json" not in media_types:
            raise ApiError(406, "Not acceptable: send Accept: application/json")

    def _route(self, method: str, subpath: str) -> tuple[Handler, str | None]:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(subpath)
            if match is None:
                continue
            if method not in handlers:
                raise ApiError(405, f"Method {method} not allowed here")
            object_id = match.groupdict().get("id")
            return handlers[method], unquote(object_id) if object_id else None
        raise ApiError(404, "Not found")

    @staticmethod
    def _page_args(call: ApiCall) -> tuple[str | None, int]:
        raw = call.request.param("max_results")
        if raw is None or raw == "":
            return call.param("after"), DEFAULT_PAGE_SIZE
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ApiError(422, f"max_results must be between 1 and {MAX_PAGE_SIZE}")
        return call.param("after"), limit

    @staticmethod
    def _order(call: ApiCall, sorts: Mapping[str, object], default: str) -> tuple[str, bool]:
        """``sort`` (one of ``sorts``) and whether ``direction`` is ``desc`` (default asc)."""
        sort = call.param("sort") or default
        if sort not in sorts:
            raise ApiError(422, f"sort must be one of: {', '.join(sorts)}")
        direction = call.param("direction") or "asc"
        if direction not in ("asc", "desc"):
            raise ApiError(422, "direction must be asc or desc")
        return sort, direction == "desc"

    @staticmethod
    def _collection(items: list[dict[str, Any]], more: bool) -> Response:
        return json_response(200, {"collection": items, "more_results": more})

    @staticmethod
    def _expands(call: ApiCall, name: str) -> bool:
        """Whether ``expand`` (comma-separated) names ``name``."""
        return name in (call.param("expand") or "").split(",")

    def _custom_on_get(self, call: ApiCall) -> bool:
        return self.options.custom_on_get == "always" or self._expands(call, "custom")

    # -- sessions -----------------------------------------------------------------------------

    def _session_by_id_or_token(
        self, id_or_token: str, *, expired_token_ok: bool = False
    ) -> SessionRecord:
        session_id = id_or_token
        if "." in id_or_token:  # the full login token instead of the id
            claims = self.keys.decode(id_or_token, verify_exp=not expired_token_ok)
            session_id = str((claims or {}).get("sid") or (claims or {}).get("tk") or "")
        return self.store.get_session(session_id)

    def get_session(self, call: ApiCall) -> Response:
        """GET /sessions/:id; the id may be the full login token (v1.authrocket.com/docs/api/
        sessions: "Session ID or full login token"; the AuthRocket 1 integration guide passes
        the token).

        The v2 answer has the documented fields only, no embedded user, unless the realm
        option ``session_answer`` says otherwise; ``token`` is the token asked with, else one
        minted now for the session (the field is "Auto-generated. Full login (JWT) token").
        The v1 answer embeds the user (v1.authrocket.com integration guide).
        """
        assert call.object_id is not None
        by_token = "." in call.object_id
        session = self._session_by_id_or_token(
            call.object_id, expired_token_ok=self.options.expired_token_lookup == "session"
        )
        shape = "embedded_user" if call.generation == 1 else self.options.session_answer
        token = None
        if call.generation == 2 and shape != "without_token":
            token = call.object_id if by_token else self._fresh_token(session)
        if shape != "embedded_user":
            return json_response(200, session_object(session, token=token))
        user = self.store.get_user(session.user_id)
        memberships = self.store.memberships_of(user.id)
        return json_response(
            200, session_object(session, user, memberships, call.generation, token=token)
        )

    def _fresh_token(self, session: SessionRecord) -> str | None:
        return self.issuer.mint(session_id=session.id) if self.issuer is not None else None

    def delete_session(self, call: ApiCall) -> Response:
        """DELETE /sessions/:id: 204."""
        assert call.object_id is not None
        session = self._session_by_id_or_token(call.object_id)
        self.store.end_session(session.id)
        return Response(204, b"", None)

    def list_sessions(self, call: ApiCall) -> Response:
        """GET /sessions?user_id=: the active sessions (of one user); ``sort`` ``id`` only,
        ``direction`` asc (default) or desc (authrocket.com/docs/api/sessions)."""
        after, limit = self._page_args(call)
        _, descending = self._order(call, {"id": None}, "id")
        sessions, more = self.store.page_sessions(
            after=after, limit=limit, user_id=call.param("user_id"), descending=descending
        )
        return self._collection(
            [session_object(s, generation=call.generation) for s in sessions], more
        )

    def create_session(self, call: ApiCall) -> Response:
        """POST /sessions with ``{"session": {"user_id": ...}, "request": {...}}``: 201, the
        session with its ``token`` (authrocket.com/docs/api/sessions: ``user_id`` required,
        ``token`` "Auto-generated. Full login (JWT) token"; authrocket-node lib/resource.js
        ``buildRoot`` wraps the fields in ``session`` and puts ``request`` beside them, and
        its test helper creates a session with ``user_id`` alone). LoginRocket refuses
        inactive users; so does this."""
        fields = _wrapped_body(call.request, "session")
        attributes = fields.pop("request", None) or _body_member(call.request, "request") or {}
        unknown = set(fields) - {"user_id"}
        if unknown:
            raise ApiError(422, f"Unknown session fields: {', '.join(sorted(unknown))}")
        user_id = fields.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ApiError(422, "User can't be blank")
        if not isinstance(attributes, dict):
            raise ApiError(422, "request must be an object")
        if self.store.get_user(user_id).state != "active":
            raise ApiError(422, "User is inactive")
        session = self.store.create_session(user_id, request=attributes)
        token = self._fresh_token(session) if call.generation == 2 else None
        return json_response(201, session_object(session, generation=call.generation, token=token))

    # -- users --------------------------------------------------------------------------------

    def list_users(self, call: ApiCall) -> Response:
        """GET /users (filters: ``state``, ``email``, ``reference``; ``sort``, ``direction``).
        ``custom`` only with ``expand=custom`` (the users list documents the parameter, as
        the orgs list does: https://authrocket.com/docs/api/users)."""
        after, limit = self._page_args(call)
        state = call.param("state")
        if state is not None and state not in USER_STATES:
            raise ApiError(422, f"state must be one of: {', '.join(sorted(USER_STATES))}")
        sort, descending = self._order(call, USER_SORTS, "id")
        users, more = self.store.page_users(
            after=after,
            limit=limit,
            state=state,
            email=call.param("email"),
            reference=call.param("reference"),
            sort=sort,
            descending=descending,
        )
        custom = self._expands(call, "custom")
        return self._collection(
            [user_object(u, call.generation, custom=custom) for u in users], more
        )

    def get_user(self, call: ApiCall) -> Response:
        """GET /users/:id (or the user's email); ``custom`` per the ``custom_on_get`` option."""
        assert call.object_id is not None
        user = self.store.get_user(call.object_id)
        return json_response(
            200, user_object(user, call.generation, custom=self._custom_on_get(call))
        )

    def create_user(self, call: ApiCall) -> Response:
        """POST /users with ``{"user": {...}}``: 201. ``email_verification`` defaults to
        ``none`` (authrocket.com/docs/api/users, "Fields")."""
        fields = _user_fields(call.request)
        user = self.store.create_user(**fields)
        return json_response(201, user_object(user, call.generation))

    def update_user(self, call: ApiCall) -> Response:
        """PUT (or PATCH) /users/:id with ``{"user": {...}}``: the fields given change, the
        others stay; ``user.updated`` (authrocket-ruby lib/authrocket/user.rb and
        authrocket-node lib/user.js: ``update``, a PUT)."""
        assert call.object_id is not None
        user = self.store.get_user(call.object_id)
        updated = self.store.update_user(user.id, **_user_fields(call.request))
        return json_response(200, user_object(updated, call.generation))

    def delete_user(self, call: ApiCall) -> Response:
        """DELETE /users/:id: 204; the user's memberships and sessions end with it
        (``membership.deleted``, ``session.deleted``, then ``user.deleted``)."""
        assert call.object_id is not None
        self.store.delete_user(self.store.get_user(call.object_id).id)
        return Response(204, b"", None)

    # -- orgs, memberships, events ------------------------------------------------------------

    def list_orgs(self, call: ApiCall) -> Response:
        """GET /orgs (filters: ``state``, ``reference``, an exact match; ``sort`` ``id`` or
        ``name``, by default ``name``; ``direction`` asc or desc). "expand: custom -- Include
        custom in the response": without it the list leaves ``custom`` out
        (https://authrocket.com/docs/api/orgs, "List orgs")."""
        after, limit = self._page_args(call)
        sort, descending = self._order(call, ORG_SORTS, "name")
        orgs, more = self.store.page_orgs(
            after=after,
            limit=limit,
            state=call.param("state"),
            reference=call.param("reference"),
            sort=sort,
            descending=descending,
        )
        custom = self._expands(call, "custom")
        return self._collection([org_object(o, custom=custom) for o in orgs], more)

    def get_org(self, call: ApiCall) -> Response:
        """GET /orgs/:id; ``custom`` per the ``custom_on_get`` option."""
        assert call.object_id is not None
        org = self.store.get_org(call.object_id)
        return json_response(200, org_object(org, custom=self._custom_on_get(call)))

    def list_memberships(self, call: ApiCall) -> Response:
        """GET /memberships?org_id= and/or ?user_id=: "Querying for an org_id will include the
        associated user records. Querying for a user_id will include the associated org
        records. Querying for both org_id and user_id will not include any associated records"
        (https://authrocket.com/docs/api/memberships; embedded as ``user``/``org``, the names
        of authrocket-ruby lib/authrocket/membership.rb's ``belongs_to``). Neither: see the
        ``unfiltered_memberships`` option."""
        after, limit = self._page_args(call)
        user_id, org_id = call.param("user_id"), call.param("org_id")
        if user_id is None and org_id is None:
            if self.options.unfiltered_memberships == "empty":
                return self._collection([], False)
            raise ApiError(422, "Either org_id or user_id is required")
        memberships, more = self.store.page_memberships(
            after=after, limit=limit, user_id=user_id, org_id=org_id
        )
        custom = self._expands(call, "custom")
        items = []
        for m in memberships:
            if user_id is None:  # by org: each user
                user = user_object(self.store.get_user(m.user_id), call.generation, custom=custom)
                items.append(membership_object(m, user=user))
            elif org_id is None:  # by user: each org
                items.append(membership_object(m, self.store.get_org(m.org_id), custom=custom))
            else:
                items.append(membership_object(m))
        return self._collection(items, more)

    def get_membership(self, call: ApiCall) -> Response:
        """GET /memberships/:id, with its org embedded."""
        assert call.object_id is not None
        membership = self.store.get_membership(call.object_id)
        return json_response(
            200, membership_object(membership, self.store.get_org(membership.org_id))
        )

    def list_events(self, call: ApiCall) -> Response:
        """GET /events: newest first unless ``direction=asc``; filters by type prefix and ids."""
        after, limit = self._page_args(call)
        direction = call.param("direction") or "desc"
        if direction not in ("asc", "desc"):
            raise ApiError(422, "direction must be asc or desc")
        ids = {
            name: value
            for name in ("user_id", "org_id", "membership_id", "session_id", "invitation_id")
            if (value := call.param(name)) is not None
        }
        events, more = self.store.page_events(
            after=after,
            limit=limit,
            descending=direction == "desc",
            event_type=call.param("event_type"),
            **ids,
        )
        return self._collection([event_object(e) for e in events], more)

    def get_event(self, call: ApiCall) -> Response:
        """GET /events/:id."""
        assert call.object_id is not None
        return json_response(200, event_object(self.store.get_event(call.object_id)))

    def get_invitation(self, call: ApiCall) -> Response:
        """GET /invitations/:id (authrocket-ruby lib/authrocket/invitation.rb: ``find``)."""
        assert call.object_id is not None
        with self.store.lock:
            invitation = self.store.invitations.get(call.object_id)
        if invitation is None:
            raise NotFound("Invitation not found")
        return json_response(200, invitation_object(invitation))


def _user_fields(request: Request) -> dict[str, Any]:
    """The user fields of a create or update body; ``password`` and its confirmation (the
    emulator keeps no passwords) and ``request`` (event attributes) are dropped."""
    fields = _wrapped_body(request, "user")
    for ignored in ("password", "password_confirmation", "request"):
        fields.pop(ignored, None)
    return fields


def _body_member(request: Request, name: str) -> Any:
    """A top-level member of a JSON body (None when absent or the body is not JSON)."""
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def _wrapped_body(request: Request, resource: str) -> dict[str, Any]:
    """The ``{"<resource>": {...}}`` body, JSON or form-encoded (``user[email]=...``)."""
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        prefix = f"{resource}["
        fields = {
            name[len(prefix) : -1]: value
            for name, value in request.form().items()
            if name.startswith(prefix) and name.endswith("]")
        }
        if not fields:
            raise ApiError(422, f"Send the fields as {resource}[name]=value")
        return fields
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    wrapped = body.get(resource) if isinstance(body, dict) else None
    if not isinstance(wrapped, dict):
        raise ApiError(422, f'Wrap the fields in the resource name: {{"{resource}": {{...}}}}')
    return dict(wrapped)
