"""LoginRocket's hosted pages: /login, /signup, /logout, /profile, /accounts.

No JavaScript: each page is a plain form that POSTs back to the same path with the
``redirect_uri`` in a hidden field. After a login the browser is sent to ``redirect_uri``
with ``token=<JWT>`` appended. A cookie remembers the LoginRocket session, so a second visit
to /login logs straight in again (as LoginRocket does) unless ``prompt=login`` is given.
Everything echoed into a page is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import html
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from .activity import Activity
from .issuer import TokenIssuer
from .locales import language, translate
from .login_urls import LoginURLs
from .options import RealmOptions
from .records import SessionRecord, UserRecord
from .store import Invalid, NotFound, Store
from .wire import Request, Response, html_response, redirect

SESSION_COOKIE = "loginrocket_session"
_PAGES = frozenset({"/login", "/signup", "/logout", "/profile", "/accounts"})
USERS_SHOWN = 50

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:30rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.75rem;
box-shadow:0 1px 4px rgba(0,0,0,.1)}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1rem;margin:1.5rem 0 .5rem}
.note{color:#5b6475;font-size:.9rem}.error{color:#b00020}
button.user{display:block;width:100%;text-align:left;margin:.3rem 0;padding:.6rem .8rem;
border:1px solid #d5d9e0;border-radius:.5rem;background:#fafbfc;cursor:pointer}
button.user:hover{border-color:#4f6bed}
label{display:block;margin:.5rem 0 .2rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #c5cad3;border-radius:.4rem}
button.primary{margin-top:1rem;padding:.6rem 1.2rem;border:0;border-radius:.5rem;
background:#4f6bed;color:#fff;cursor:pointer}
button,input,select,textarea{font:inherit}
textarea{width:100%;height:8rem;font-family:monospace;font-size:.75rem}
.notice{background:#eef6ee;border-radius:.4rem;padding:.5rem .8rem}
li.current{font-weight:600}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, lang: str = "en") -> str:
    return (
        f"<!doctype html><html lang={lang}><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)} · AuthRocket emulator</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}<p class=note>AuthRocket emulator: for development and tests only."
        "</p></main></body></html>"
    )


def _hidden(name: str, value: str | None) -> str:
    if value is None:
        return ""
    return f'<input type=hidden name="{_e(name)}" value="{_e(value)}">'


class BadRedirect(ValueError):
    """``redirect_uri`` is not an absolute http(s) URL."""


def checked_redirect_uri(value: str | None) -> str | None:
    """``redirect_uri`` if it is an absolute http(s) URL, None if absent; else BadRedirect."""
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in value)
    ):
        raise BadRedirect(value)
    return value


def with_token(redirect_uri: str, token: str) -> str:
    """``redirect_uri`` with ``token=<token>`` appended to its query (replacing any token)."""
    parts = urlsplit(redirect_uri)
    kept = [pair for pair in parts.query.split("&") if pair and pair.split("=")[0] != "token"]
    kept.append(urlencode({"token": token}))
    return urlunsplit(parts._replace(query="&".join(kept)))


class LoginRocketPages:
    """The hosted pages of one realm."""

    def __init__(
        self,
        store: Store,
        issuer: TokenIssuer,
        *,
        generation: int = 2,
        options: RealmOptions | None = None,
        login_urls: LoginURLs | None = None,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.generation = generation  # of the tokens handed to the app after a login
        self.options = options or RealmOptions()
        self.activity = Activity(store)  # the profile page's edits emit what LoginRocket's do
        self.login_urls = login_urls if login_urls is not None else LoginURLs()

    def handle(self, request: Request) -> Response | None:
        """Answer a page request, or None when the path is not a LoginRocket page."""
        path = request.path.rstrip("/") or "/"
        if path not in _PAGES and not path.startswith("/accounts/"):
            return None
        try:
            redirect_uri = checked_redirect_uri(_field(request, "redirect_uri"))
        except BadRedirect:
            return self._message(
                400, "Invalid redirect_uri", "redirect_uri must be an absolute http(s) URL."
            )
        # Only to a Login URL of the connected app, else an error page (login_urls.py).
        if redirect_uri is not None and not self.login_urls.allows(redirect_uri):
            return self._message(
                400,
                "Invalid redirect_uri",
                f"{redirect_uri} is not a Login URL of this app. Register it: "
                "AuthRocketEmulator(login_urls=[...]), emulator.add_login_url(...) or "
                "authrocket-emulator --login-url.",
            )
        if redirect_uri is None and path in ("/login", "/signup"):
            redirect_uri = self.login_urls.default  # "the Default Login URL"
        if path == "/login":
            if request.method == "POST":
                return self._post_login(request, redirect_uri)
            return self._get_login(request, redirect_uri)
        if path == "/signup":
            if request.method == "POST":
                return self._post_signup(request, redirect_uri)
            return html_response(200, self._signup_page(request, redirect_uri))
        if path == "/logout":
            return self._logout(request, redirect_uri)
        if path == "/profile":
            return self._profile(request, redirect_uri)
        return self._accounts(request, redirect_uri, path.removeprefix("/accounts").strip("/"))

    # -- login and signup ---------------------------------------------------------------------

    def _get_login(self, request: Request, redirect_uri: str | None) -> Response:
        session = self._cookie_session(request)
        if session is not None and request.param("prompt") != "login" and redirect_uri:
            return self._finish_login(session, redirect_uri, request.param("account"))
        return html_response(200, self._login_page(request, redirect_uri))

    def _post_login(self, request: Request, redirect_uri: str | None) -> Response:
        form = request.form()
        try:
            if form.get("user_id"):
                user = self.store.get_user(form["user_id"])
            else:
                user = self._find_or_create_user(form)
        except NotFound:
            # LoginRocket's failed login says "Login failed" ("Error al iniciar sesión" in es:
            # authrocket-js loginrocket-js/test/loginrocket_test.js).
            return html_response(422, self._login_page(request, redirect_uri, error="Login failed"))
        except Invalid as error:
            return html_response(422, self._login_page(request, redirect_uri, error=str(error)))
        return self._start_session(request, user, redirect_uri, form.get("account"))

    def _post_signup(self, request: Request, redirect_uri: str | None) -> Response:
        form = request.form()
        try:
            user = self.store.create_user(
                email=form.get("email"),
                first_name=form.get("first_name"),
                last_name=form.get("last_name"),
            )
        except Invalid as error:
            return html_response(422, self._signup_page(request, redirect_uri, error=str(error)))
        return self._start_session(request, user, redirect_uri, None)

    def _find_or_create_user(self, form: dict[str, str]) -> UserRecord:
        email = form.get("email", "")
        if email:
            try:
                return self.store.get_user(email)
            except NotFound:
                pass
        return self.store.create_user(
            email=email, first_name=form.get("first_name"), last_name=form.get("last_name")
        )

    def _start_session(
        self, request: Request, user: UserRecord, redirect_uri: str | None, account: str | None
    ) -> Response:
        if user.state != "active":
            return self._inactive(request, redirect_uri)
        org_id = self._member_org(user.id, account)
        # The session's request attributes, as the sessions API shows them (``client``).
        client = request.header("User-Agent")
        session = self.store.create_session(
            user.id, org_id=org_id, request={"client": client} if client else None
        )
        response = self._finish_login(session, redirect_uri, org_id)
        cookie = SimpleCookie()
        cookie[SESSION_COOKIE] = session.id
        cookie[SESSION_COOKIE]["path"] = "/"
        cookie[SESSION_COOKIE]["httponly"] = True
        cookie[SESSION_COOKIE]["samesite"] = "Lax"
        response.headers.append(("Set-Cookie", cookie[SESSION_COOKIE].OutputString()))
        return response

    def _finish_login(
        self, session: SessionRecord, redirect_uri: str | None, account: str | None
    ) -> Response:
        org_id = self._member_org(session.user_id, account)
        token = self.issuer.mint(session_id=session.id, org_id=org_id, generation=self.generation)
        if redirect_uri is None:
            user = self.store.get_user(session.user_id)
            body = (
                f"<h1>Logged in as {_e(user.name)}</h1>"
                "<p class=note>No redirect_uri was given, so here is the login token:</p>"
                f"<textarea readonly>{_e(token)}</textarea>"
            )
            return html_response(200, _page("Logged in", body))
        return redirect(with_token(redirect_uri, token))

    def _member_org(self, user_id: str, org_id: str | None) -> str | None:
        if org_id and any(m.org_id == org_id for m, _ in self.store.memberships_of(user_id)):
            return org_id
        return None

    def _cookie_session(self, request: Request) -> SessionRecord | None:
        cookie = SimpleCookie()
        try:
            cookie.load(request.header("Cookie") or "")
        except Exception:  # noqa: BLE001 - a mangled cookie header is just no cookie
            return None
        morsel = cookie.get(SESSION_COOKIE)
        if morsel is None:
            return None
        try:
            return self.store.get_session(morsel.value)
        except NotFound:
            return None

    def _inactive(self, request: Request, redirect_uri: str | None) -> Response:
        """The refusal of an inactive user, with a way back: log in as someone else, or
        return to the app."""
        lang = _lang(request)
        query = {"prompt": "login", **({"redirect_uri": redirect_uri} if redirect_uri else {})}
        title = translate("Account inactive", lang)
        body = (
            f"<h1>{_e(title)}</h1><p>{_e(translate('This account cannot log in.', lang))}</p>"
            f'<p><a href="/login?{_e(urlencode(query))}">'
            f"{_e(translate('Log in as someone else', lang))}</a></p>" + _back_link(redirect_uri)
        )
        return html_response(403, _page(title, body, lang))

    # -- logout, profile, accounts ------------------------------------------------------------

    def _logout(self, request: Request, redirect_uri: str | None) -> Response:
        for session_id in (
            request.param("session"),
            getattr(self._cookie_session(request), "id", None),
        ):
            if session_id:
                with contextlib.suppress(NotFound):
                    self.store.end_session(session_id)
        expire = f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        if redirect_uri is None:
            # Without redirect_uri LoginRocket goes on to /login (authrocket.com/docs/
            # loginrocket_urls, "/logout"); the login page says the logout happened.
            page = self._login_page(request, None, notice="You are logged out.")
            return html_response(200, page, headers=[("Set-Cookie", expire)])
        return redirect(redirect_uri, headers=[("Set-Cookie", expire)])

    def _session(self, request: Request) -> SessionRecord | None:
        session_id = _field(request, "session")
        if session_id:
            try:
                return self.store.get_session(session_id)
            except NotFound:
                return None
        return self._cookie_session(request)

    def _session_user(self, request: Request) -> UserRecord | None:
        session = self._session(request)
        return self.store.get_user(session.user_id) if session else None

    def _profile(self, request: Request, redirect_uri: str | None) -> Response:
        """The person's own profile: names and email, editable (LoginRocket's /profile, "Allows
        the user to manage their own profile": authrocket.com/docs/loginrocket_urls)."""
        user = self._session_user(request)
        if user is None:
            body = "<h1>Profile</h1><p>Not logged in.</p>"
            return html_response(200, _page("Profile", body + _back_link(redirect_uri)))
        notice = error = None
        if request.method == "POST":
            try:
                notice = self._save_profile(user, request.form())
            except Invalid as exc:
                error = str(exc)
            user = self.store.get_user(user.id)
        return html_response(
            422 if error else 200,
            _page("Profile", self._profile_body(request, user, redirect_uri, notice, error)),
        )

    def _save_profile(self, user: UserRecord, form: dict[str, str]) -> str:
        """Apply a profile form; returns what to tell the person.

        Names change at once (``user.profile.updated``). A new email follows the realm
        option ``profile_email_change``: ``verify`` waits for the address to be verified
        (``user.email.updating``, then ``user.email.verified``), ``immediate`` changes it now
        and asks for its verification (``user.profile.updated``, ``email_verification``
        ``requested``): the two ways authrocket.com/docs/api/users ("Email pending")
        describes.
        """
        names: dict[str, str | None] = {
            name: form[name].strip() or None
            for name in ("first_name", "last_name")
            if name in form and (form[name].strip() or None) != getattr(user, name)
        }
        email = form.get("email", "").strip().lower()
        new_email = email if email and email != user.email else None
        if new_email and self.options.profile_email_change == "verify":
            self.activity.request_email_change(user.id, new_email)
            if names:
                self.activity.update_profile(user.id, **names)
            return f"Saved. {new_email} becomes your email once you verify it."
        if new_email:
            changes: dict[str, str | None] = {
                **names,
                "email": new_email,
                "email_verification": "requested",
            }
            self.store.update_user(user.id, emit="user.profile.updated", **changes)
        elif names:
            self.activity.update_profile(user.id, **names)
        return "Saved."

    def _profile_body(
        self,
        request: Request,
        user: UserRecord,
        redirect_uri: str | None,
        notice: str | None,
        error: str | None,
    ) -> str:
        hidden = _hidden("redirect_uri", redirect_uri) + _hidden(
            "session", _field(request, "session")
        )
        pending = self.store.pending_emails.get(user.id)
        return (
            f"<h1>{_e(user.name)}</h1>"
            + (f"<p class=notice>{_e(notice)}</p>" if notice else "")
            + _error(error)
            + f'<form method=post action="/profile">{hidden}'
            + _text_input("first_name", "First name", user.first_name)
            + _text_input("last_name", "Last name", user.last_name)
            + _text_input("email", "Email", user.email, kind="email")
            + "<button class=primary type=submit>Save</button></form>"
            + (f"<p class=note>Waiting for verification: {_e(pending)}</p>" if pending else "")
            + f"<p class=note>User id {_e(user.id)}</p>"
            + _back_link(redirect_uri)
        )

    def _accounts(self, request: Request, redirect_uri: str | None, org_id: str) -> Response:
        session = self._session(request)
        user = self.store.get_user(session.user_id) if session else None
        # The current org: the one asked for with ``account``, else the session's.
        current = _field(request, "account") or (session.org_id if session else None)
        rows = []
        for membership, org in self.store.memberships_of(user.id) if user else []:
            if org_id and org.id != org_id:
                continue
            query = {"account": org.id, **({"redirect_uri": redirect_uri} if redirect_uri else {})}
            mark = (
                (" class=current aria-current=true", " <span class=note>(current)</span>")
                if org.id == current
                else ("", "")
            )
            rows.append(
                f'<li{mark[0]}><a href="/login?{_e(urlencode(query))}">{_e(org.name)}</a>'
                f"{mark[1]} "
                f"<span class=note>{_e(', '.join(membership.permissions) or 'no permissions')}"
                "</span></li>"
            )
        listing = f"<ul>{''.join(rows)}</ul>" if rows else "<p>No accounts.</p>"
        return html_response(
            200, _page("Accounts", "<h1>Accounts</h1>" + listing + _back_link(redirect_uri))
        )

    # -- page bodies --------------------------------------------------------------------------

    def _login_page(
        self,
        request: Request,
        redirect_uri: str | None,
        *,
        error: str | None = None,
        notice: str | None = None,
    ) -> str:
        lang = _lang(request)
        hidden = _hidden("redirect_uri", redirect_uri) + _hidden(
            "account", _field(request, "account")
        )
        users, more = self.store.page_users(after=None, limit=USERS_SHOWN, state="active")
        buttons = "".join(
            f'<button class=user type=submit name=user_id value="{_e(u.id)}">'
            f"<strong>{_e(u.name)}</strong><br><span class=note>{_e(u.email)}</span></button>"
            for u in users
        )
        chooser = (
            f'<h2>Choose a user</h2><form method=post action="/login">{hidden}{buttons}</form>'
            if users
            else "<p class=note>No users yet: create one below.</p>"
        )
        if more:
            chooser += "<p class=note>More users exist: type an email below to log in as one.</p>"
        return _page(
            translate("Log in", lang),
            f"<h1>{_e(translate('Log in', lang))}</h1>"
            + (f"<p class=notice>{_e(translate(notice, lang))}</p>" if notice else "")
            + _error(translate(error, lang) if error else None)
            + chooser
            + "<h2>Or log in / sign up by email</h2>"
            + f'<form method=post action="/login">{hidden}{_user_fields()}'
            + "<button class=primary type=submit>Continue</button></form>"
            + _signup_link(redirect_uri),
            lang,
        )

    def _signup_page(
        self, request: Request, redirect_uri: str | None, *, error: str | None = None
    ) -> str:
        hidden = _hidden("redirect_uri", redirect_uri) + _hidden(
            "invitation", _field(request, "invitation")
        )
        return _page(
            "Sign up",
            "<h1>Sign up</h1>"
            + _error(error)
            + f'<form method=post action="/signup">{hidden}{_user_fields()}'
            + "<button class=primary type=submit>Create account</button></form>",
        )

    def _message(self, status: int, title: str, text: str) -> Response:
        return html_response(status, _page(title, f"<h1>{_e(title)}</h1><p>{_e(text)}</p>"))


def _field(request: Request, name: str) -> str | None:
    """A value from the query string, or from the form on a POST."""
    if request.method == "POST":
        value = request.form().get(name)
        if value is not None:
            return value
    return request.param(name)


def _lang(request: Request) -> str:
    """The page language ``Accept-Language`` asks for (locales.py)."""
    return language(request.header("Accept-Language"))


def _text_input(name: str, label: str, value: str | None, *, kind: str = "text") -> str:
    return (
        f"<label for={name}>{_e(label)}</label>"
        f'<input id={name} name={name} type={kind} value="{_e(value or "")}">'
    )


def _user_fields() -> str:
    return (
        "<label for=email>Email</label><input id=email name=email type=email required>"
        "<label for=first_name>First name</label><input id=first_name name=first_name>"
        "<label for=last_name>Last name</label><input id=last_name name=last_name>"
    )


def _error(error: str | None) -> str:
    return f"<p class=error>{_e(error)}</p>" if error else ""


def _back_link(redirect_uri: str | None) -> str:
    return f'<p><a href="{_e(redirect_uri)}">Back to the app</a></p>' if redirect_uri else ""


def _signup_link(redirect_uri: str | None) -> str:
    query = f"?redirect_uri={quote(redirect_uri, safe='')}" if redirect_uri else ""
    return f'<p class=note><a href="/signup{_e(query)}">Create an account</a></p>'
