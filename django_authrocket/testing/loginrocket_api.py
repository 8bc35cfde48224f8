"""The LoginRocket API (``<LoginRocket URL>/v2/...``): logins, sessions, signups and passwords.

Sources, cited per behaviour below:

* [js] authrocket-js ``loginrocket-js/lib/loginrocket.js``: the endpoints and their methods;
  statuses 2xx, 409 and 422 carry a JSON body, 403 = "Session expired or access denied",
  404 = not found, 429 = rate limited.
* [test] ``loginrocket-js/test/loginrocket_test.js`` and ``test/assertions.js``: the answers
  (``full_login`` with ``session``/``account``/``token``; ``conditional_login`` with
  ``conditions`` and no token; ``okay``; ``error`` with ``error`` and ``errors``) and the
  cases each endpoint answers.
* [seed] "Accessing the LoginRocket API" (AR2: /work/shared/seeds/004; AR1: seeds/001): no API
  key, JSON or form bodies, CORS, tight rate limits, ``Accept-Language``, ``X-Request-ID``
  (server.py sets it on every answer), session ids in the query.
* [docs] authrocket.com/docs/api/loginrocket "Fields": ``email`` may also be a username or a
  user id; emails and usernames are case-insensitive; ``password_confirmation`` is checked
  whenever present.

Where none of these say, the behaviour is marked "emulator's choice"; where a site could meet
either way, a realm option (``lr_*`` in options.py) offers each. The second factor is one of
those: POST login for a person with TOTP answers ``conditional_login`` with the condition
``login_verification_required`` and ``verification: {"method": "totp"}``; POST login/verify
``{session, code}`` completes it.

A login here is a session of the same store the hosted pages, the Core API and the events use
(``Store.create_session`` emits ``user.login.succeeded``; ``end_session`` ``session.deleted``),
and its tokens come from the same :class:`TokenIssuer` as the hosted pages' tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import lr_http
from .activity import Activity
from .credentials import INVITATION, MIN_PASSWORD_LENGTH, PASSWORD_RESET, VERIFY_EMAIL, Credentials
from .issuer import TokenIssuer
from .lr_messages import language, message
from .options import RealmOptions
from .records import SessionRecord, UserRecord
from .store import Invalid, NotFound, Store
from .wire import JSON_TYPE, Request, Response

#: A problem: (field or None, message key, format values).
Problem = tuple[str | None, str]


class LrError(Exception):
    """Ends a request with ``{"result": "error", ...}`` and ``status``."""

    def __init__(
        self, status: int, *problems: Problem, headers: list[tuple[str, str]] | None = None
    ):
        super().__init__(status)
        self.status = status
        self.problems = problems
        self.headers = headers or []


@dataclass(frozen=True)
class Call:
    """One request to an endpoint: its fields (body, then query) and the answer language."""

    request: Request
    fields: dict[str, Any]
    lang: str

    def text(self, name: str) -> str:
        """A string field ("" when absent); a value of another type is a 422 (emulator's choice)."""
        value = self.fields.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise LrError(422, (name, "field_invalid"))
        return value.strip() if name not in ("password", "current_password") else value


Handler = Callable[[Call], Response]


class LoginRocketAPI:
    """Answers ``/v2/...`` as LoginRocket's user-facing API does."""

    def __init__(
        self,
        store: Store,
        issuer: TokenIssuer,
        activity: Activity,
        credentials: Credentials,
        *,
        options: RealmOptions,
        generation: int = 2,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.activity = activity
        self.credentials = credentials
        self.options = options
        self.generation = generation  # of the tokens, as the hosted pages (pages.py)
        # [js]: each library method's path and HTTP method.
        self.routes: dict[str, dict[str, Handler]] = {
            "login": {"POST": self.login},
            "login/verify": {"POST": self.verify_login},
            "session": {"GET": self.get_session, "DELETE": self.delete_session},
            "password/forgot": {"POST": self.forgot_password},
            "password/reset": {"POST": self.reset_password},
            "profile/password": {"POST": self.update_password},
            "profile": {"PUT": self.update_profile},
            "signup/request": {"POST": self.request_invitation},
            "signup": {"POST": self.signup},
            "email/verify": {"POST": self.verify_email},
        }

    # -- the request's way in and out -----------------------------------------------------------

    def handle(self, request: Request, rest: str) -> Response:
        """Answer one request to ``/v2/<rest>``."""
        origin = lr_http.allowed_origin(request, self.options)
        lang = language(request.header("Accept-Language"))  # [seed] Accept-Language
        if request.method == "OPTIONS":
            return self._preflight(request, origin, lang)
        try:
            response = self._answer(request, rest.strip("/"), lang)
        except LrError as error:
            response = self._error(error, lang)
        response.headers += lr_http.cors_headers(origin)
        return response

    def _answer(self, request: Request, path: str, lang: str) -> Response:
        client = lr_http.client_address(request, self.options)
        wait = lr_http.rate_limited(self.store, client, self.options)
        if wait is not None:  # [seed] "tightly rate limited"; [js] 429
            raise LrError(429, (None, "rate_limited"), headers=[("Retry-After", str(wait))])
        route = self.routes.get(path)
        if route is None:
            raise LrError(404, (None, "not_found"))
        handler = route.get(request.method)
        if handler is None:
            allow = ", ".join(route)
            raise LrError(405, (None, "method_not_allowed"), headers=[("Allow", allow)])
        try:
            fields = (
                lr_http.body_fields(request)
                if request.method in ("POST", "PUT")
                else {name: values[0] for name, values in request.query.items() if values}
            )
        except lr_http.BadBody:
            raise LrError(400, (None, "bad_body")) from None
        try:
            return handler(Call(request, fields, lang))
        except NotFound:  # the person or org went away between two steps
            raise LrError(404, (None, "not_found")) from None
        except Invalid:  # a rule of the store this module did not check first
            raise LrError(422, (None, "request_invalid")) from None

    def _preflight(self, request: Request, origin: str | None, lang: str) -> Response:
        # [seed] CORS for the configured origins only; a refused origin gets no CORS header,
        # so the browser blocks the call (status 403 is the emulator's choice).
        if origin is None:
            response = self._error(LrError(403, (None, "origin_denied")), lang)
            response.headers.append(("Vary", "Origin"))
            return response
        headers = lr_http.cors_headers(origin) + lr_http.preflight_headers(origin)
        return Response(204, b"", None, headers)

    def _error(self, error: LrError, lang: str) -> Response:
        # [test] lrMatchesError: ``error`` is a message and ``errors`` the list of them.
        messages = [
            message(key, lang, field=(field or "").replace("_", " ").capitalize())
            for field, key in error.problems
        ]
        body: dict[str, Any] = {"result": "error", "error": messages[0], "errors": messages}
        if self.options.lr_error_shape == "fields":  # emulator's choice: lr_error_shape
            by_field: dict[str, list[str]] = {}
            for (field, _), text in zip(error.problems, messages, strict=True):
                if field is not None:
                    by_field.setdefault(field, []).append(text)
            body["field_errors"] = by_field
        return _json(error.status, body, error.headers)

    # -- answers ------------------------------------------------------------------------------

    def _session_answer(self, session: SessionRecord, account: str) -> Response:
        """A ``full_login`` for the session and account, else a ``conditional_login``."""
        user = self.store.get_user(session.user_id)
        conditions: list[str] = []
        # Emulator's choice (not documented): verification and profile conditions come first.
        if (
            self.options.lr_email_verification == "required"
            and user.email_verification != "verified"
        ):
            conditions.append("must_verify_email")
        if self.options.lr_required_profile == "name" and not (user.first_name and user.last_name):
            conditions.append("must_complete_profile")
        memberships = self.store.memberships_of(user.id)
        chosen: str | None = None
        if account:
            if not any(membership.org_id == account for membership, _ in memberships):
                raise LrError(404, ("account", "account_not_found"))  # emulator's choice: 404
            chosen = account  # [test] getSession with an account: a full login for it
        elif not memberships:
            chosen = self._without_org(user, conditions)
        elif self.options.lr_org_mode == "single_user":
            chosen = memberships[0][1].id  # [test] getSession: "defaults to first org"
        else:
            conditions.append("no_account_selected")  # [test] getSession, multi_user
        if conditions:
            # [test] lrSessionOnly: session, account, conditions; no token.
            return _json(
                200,
                {
                    "result": "conditional_login",
                    "session": session.id,
                    "account": chosen,
                    "conditions": conditions,
                },
            )
        token = self.issuer.mint(session_id=session.id, org_id=chosen, generation=self.generation)
        # [test] lrFullToken: session kss_..., account org_..., token.
        return _json(
            200, {"result": "full_login", "session": session.id, "account": chosen, "token": token}
        )

    def _without_org(self, user: UserRecord, conditions: list[str]) -> str | None:
        """The account of a person with no org (realm option ``lr_without_org``)."""
        if self.options.lr_org_mode == "multi_user" or self.options.lr_without_org == "no_account":
            return None  # emulator's choice: nothing to select
        if self.options.lr_without_org == "must_complete_profile":
            if "must_complete_profile" not in conditions:
                conditions.append("must_complete_profile")
            return None
        # [test] getSession comment: single_user "auto-creates" an org; its name and the
        # owner's permissions are the emulator's choice.
        with self.store.lock:  # two reads at once make one org
            memberships = self.store.memberships_of(user.id)
            if memberships:
                return memberships[0][1].id
            org = self.store.create_org(user.name)
            self.store.create_membership(user.id, org.id, permissions=["ar:owner"], selected=True)
            return org.id

    def _log_in(self, user: UserRecord, account: str) -> Response:
        """After the password: the second factor when the person has one, else a session."""
        if self.credentials.totp_secret(user.id) is not None:
            pending = self.credentials.start_pending_login(user.id)
            self.activity.start_login(user.id)  # user.login.initiated (activity.py)
            return _json(
                200,
                {
                    "result": "conditional_login",
                    "session": pending,
                    "account": None,
                    "conditions": ["login_verification_required"],
                    "verification": {"method": "totp"},
                },
            )
        return self._new_session(user, account)

    def _new_session(self, user: UserRecord, account: str, *, mail: bool = True) -> Response:
        if account and not any(m.org_id == account for m, _ in self.store.memberships_of(user.id)):
            raise LrError(404, ("account", "account_not_found"))
        session = self.store.create_session(user.id, org_id=account or None)
        if (
            mail
            and self.options.lr_email_verification == "required"
            and user.email_verification != "verified"
        ):
            self.credentials.mail_user_token(VERIFY_EMAIL, user)  # emulator's choice: resend
        return self._session_answer(session, account)

    def _session(self, call: Call) -> SessionRecord:
        """The live session named by ``session``, else 403 ([js] "Session expired ...")."""
        session_id = call.text("session")
        try:
            return self.store.get_session(session_id) if session_id else _denied()
        except NotFound:
            return _denied()

    def _find_user(self, identifier: str) -> UserRecord | None:
        """[docs] ``email`` may be an email, a username or a user id."""
        if not identifier:
            return None
        try:
            return self.store.get_user(identifier)
        except NotFound:
            pass
        wanted = identifier.lower()
        with self.store.lock:
            return next(
                (u for u in self.store.users if u.username and u.username.lower() == wanted), None
            )

    # -- endpoints ----------------------------------------------------------------------------

    def login(self, call: Call) -> Response:
        """POST login {email (or username), password}: [test] "login", "login w/locale"."""
        user = self._find_user(call.text("email") or call.text("username"))
        password = call.text("password")
        if (
            user is None
            or user.state != "active"
            or not self.credentials.check_password(user.id, password)
        ):
            if user is not None:
                self.activity.fail_login(user.id)  # user.login.failed
            # Emulator's choice: the same answer for an unknown person, a wrong password and
            # an inactive person, so the answer reveals nobody's account.
            raise LrError(422, (None, "login_failed"))
        return self._log_in(user, call.text("account"))

    def verify_login(self, call: Call) -> Response:
        """POST login/verify {session, code}: the second factor (emulator's choice of shape)."""
        pending = call.text("session")
        user_id = self.credentials.pending_login_user(pending) if pending else None
        if user_id is None:
            _denied()
        assert user_id is not None
        if not self.credentials.check_totp(user_id, call.text("code").replace(" ", "")):
            self.activity.fail_login(user_id)
            raise LrError(422, ("code", "code_invalid"))
        self.credentials.finish_pending_login(pending)
        return self._new_session(self.store.get_user(user_id), call.text("account"))

    def get_session(self, call: Call) -> Response:
        """GET session?session=&account=: [test] "getSession" (and the account switch)."""
        return self._session_answer(self._session(call), call.text("account"))

    def delete_session(self, call: Call) -> Response:
        """DELETE session?session=: [test] "logout"; ends it everywhere (session.deleted)."""
        session = self._session(call)
        try:
            self.store.end_session(session.id)
        except NotFound:
            _denied()
        return _okay()

    def forgot_password(self, call: Call) -> Response:
        """POST password/forgot {email}: [test] "forgotPassword" answers okay."""
        identifier = call.text("email")
        if not identifier:
            raise LrError(422, ("email", "email_blank"))
        user = self._find_user(identifier)
        # Emulator's choice: okay for an unknown address too (reveals no account).
        if user is not None and user.state == "active":
            self.credentials.mail_user_token(PASSWORD_RESET, user)
            self.activity.request_password_reset(user.id)  # user.password.resetting
        return _okay()

    def reset_password(self, call: Call) -> Response:
        """POST password/reset {token, password, password_confirmation}: [test] "resetPassword"."""
        password = self._new_password(call)
        user_id = self.credentials.redeem(PASSWORD_RESET, call.text("token"))
        if user_id is None:
            raise LrError(422, ("token", "token_invalid"))
        user = self.store.get_user(user_id)
        self.credentials.set_password(user.id, password)
        self.activity.change_password(user.id)  # user.password.updated
        # Emulator's choice: the second factor still applies after a reset.
        return self._log_in(user, call.text("account"))

    def update_password(self, call: Call) -> Response:
        """POST profile/password {session, current_password, password}: [test] updatePassword."""
        session = self._session(call)
        if not self.credentials.check_password(session.user_id, call.text("current_password")):
            raise LrError(422, ("current_password", "current_password"))
        password = self._new_password(call)
        self.credentials.set_password(session.user_id, password)
        self.activity.change_password(session.user_id)
        return _okay()

    def update_profile(self, call: Call) -> Response:
        """PUT profile {session, first_name, last_name, email, ...}: [test] "updateProfile"."""
        session = self._session(call)
        changes: dict[str, Any] = {
            name: call.text(name) or None
            for name in ("first_name", "last_name", "username", "locale")
            if name in call.fields
        }
        new_email = None
        if "email" in call.fields:
            changes["email"] = self._checked_email(call, owner=session.user_id)
            if changes["email"] != self.store.get_user(session.user_id).email:
                new_email = changes["email"]
                changes["email_verification"] = "requested"
        if changes:
            # Emulator's choice: a new email applies at once, unverified, and is sent a link.
            user = self.store.update_user(session.user_id, emit="user.profile.updated", **changes)
            if new_email is not None:
                self.credentials.mail_user_token(VERIFY_EMAIL, user)
        return self._session_answer(session, call.text("account"))

    def request_invitation(self, call: Call) -> Response:
        """POST signup/request {email}: [test] "requestInvitation" (``signup: invitation``)."""
        if self.options.lr_signup != "invitation":
            raise LrError(422, (None, "requests_closed"))  # emulator's choice: 422
        email = self._checked_email(call, owner=None, taken_ok=True)
        self.activity.create_invitation("request", email)  # invitation.request.created
        return _okay()

    def signup(self, call: Call) -> Response:
        """POST signup {email, password, first_name, last_name, invitation}: [test] "signup"."""
        if self.options.lr_signup == "closed":
            raise LrError(422, (None, "signup_closed"))  # emulator's choice: 422
        invitation_token = call.text("invitation")
        if self.options.lr_signup == "invitation" and not self.credentials.peek(
            INVITATION, invitation_token
        ):
            raise LrError(422, ("invitation", "invitation_required"))
        email = self._checked_email(call, owner=None)
        password = self._new_password(call)
        try:
            user = self.store.create_user(
                email=email,
                first_name=call.text("first_name") or None,
                last_name=call.text("last_name") or None,
                email_verification="none",
            )
        except Invalid:
            raise LrError(409, ("email", "email_taken")) from None
        self.credentials.set_password(user.id, password)
        if self.options.lr_signup == "invitation":
            invitation_id = self.credentials.redeem(INVITATION, invitation_token)
            if invitation_id is not None:
                self.activity.accept_invitation(invitation_id, user.id)
        # Emulator's choice: a new address is sent a verification link.
        user = self.activity.request_email_verification(user.id)
        self.credentials.mail_user_token(VERIFY_EMAIL, user)
        return self._new_session(user, "", mail=False)

    def verify_email(self, call: Call) -> Response:
        """POST email/verify {token}: [test] "verifyEmail" answers okay."""
        user_id = self.credentials.redeem(VERIFY_EMAIL, call.text("token"))
        if user_id is None:
            raise LrError(422, ("token", "token_invalid"))
        self.activity.verify_email(user_id)  # user.email.verified
        return _okay()

    # -- field checks -------------------------------------------------------------------------

    def _new_password(self, call: Call) -> str:
        password = call.text("password")
        if not password:
            raise LrError(422, ("password", "password_blank"))
        if len(password) < MIN_PASSWORD_LENGTH:
            raise LrError(422, ("password", "password_short"))
        # [docs] password_confirmation is checked whenever it is present.
        if (
            "password_confirmation" in call.fields
            and call.text("password_confirmation") != password
        ):
            raise LrError(422, ("password_confirmation", "password_confirmation"))
        return password

    def _checked_email(self, call: Call, *, owner: str | None, taken_ok: bool = False) -> str:
        email = call.text("email").lower()
        if not email:
            raise LrError(422, ("email", "email_blank"))
        local, _, domain = email.partition("@")
        if not local or "." not in domain or any(ch.isspace() for ch in email):
            raise LrError(422, ("email", "email_invalid"))
        if not taken_ok:
            try:
                holder = self.store.get_user(email)
            except NotFound:
                return email
            if holder.id != owner:
                raise LrError(409, ("email", "email_taken"))  # emulator's choice: 409 Conflict
        return email


def _json(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), JSON_TYPE, list(headers or []))


def _okay() -> Response:
    return _json(200, {"result": "okay"})  # [test] lrOkay


def _denied() -> SessionRecord:
    raise LrError(403, (None, "session_expired"))
