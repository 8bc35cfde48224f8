"""Realm options: where the real AuthRocket may behave one way or another, each way on offer.

The emulator is a model of AuthRocket, not its definition. Where the sources leave the real
behaviour open, each variant is an option here, so a site's tests (and this package's) can run
under every one. Set them at construction (``AuthRocketEmulator(options=RealmOptions(...))``)
or for one test with ``emulator.configure(...)``; :meth:`AuthRocketEmulator.reset` puts back
the construction values.

Each option names its source; see also the fidelity table in docs/testing.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

#: The shape of a v2 Get Session answer (``GET /v2/sessions/:id``).
#:
#: * ``"documented"``: ``id``, ``object``, ``client_app_id``, ``created_at``, ``expires_at``,
#:   ``token``, ``user_id``, ``request``: the fields of AuthRocket 2's session object
#:   (authrocket.com/docs/api/sessions, "Fields"). No embedded user.
#: * ``"without_token"``: the same without ``token``, as that page's list example shows a
#:   session (whether Get Session fills ``token`` for every session is not documented).
#: * ``"embedded_user"``: the documented fields plus the ``user`` with its memberships and
#:   orgs embedded, as AuthRocket 1 answered (v1.authrocket.com integration guide: "the
#:   returned ... record also includes an embedded copy of the user record"): for sites that
#:   relied on it. The v1 API (``/api/v1``) always answers this way.
SessionAnswer = Literal["documented", "without_token", "embedded_user"]

#: What Get Session answers when given a login token (in place of the id) whose ``exp`` has
#: passed while its session lives on.
#:
#: * ``"not_found"``: 404, as if the token were invalid.
#: * ``"session"``: the session's answer, 200: AuthRocket may look the session up by the
#:   token's session id alone (not documented either way; authrocket.com/docs/api/sessions
#:   only says the id may be the token).
ExpiredTokenLookup = Literal["not_found", "session"]

#: The entries of the key set at ``/connect/jwks``.
#:
#: * ``"full"``: ``kty``, ``kid``, ``alg``, ``use``, ``n``, ``e`` and ``x5c`` (a bare
#:   SubjectPublicKeyInfo in ``x5c[0]``).
#: * ``"minimal"``: ``kid``, ``alg`` and ``x5c`` only: all the official libraries read
#:   (authrocket-ruby lib/authrocket/session.rb ``load_jwk_set``; authrocket-node
#:   authrocket-node/lib/loginrocket.js ``loadJwkSet``), so a set without ``kty`` works there.
JwksShape = Literal["full", "minimal"]

#: Whether Get a User / Get an Org include ``custom`` without ``expand=custom``. AuthRocket
#: documents ``expand=custom`` for the lists (authrocket.com/docs/api/orgs, "List orgs"); what
#: the single reads do is not documented.
#:
#: * ``"expand"``: only when asked, as the lists do.
#: * ``"always"``: always.
CustomOnGet = Literal["expand", "always"]

#: The answer to ``GET /memberships`` with neither ``user_id`` nor ``org_id``, which AuthRocket
#: does not document ("List memberships for a user or an org",
#: authrocket.com/docs/api/memberships).
#:
#: * ``"error"``: a 422 validation error in the ``{"errors": [...]}`` shape.
#: * ``"empty"``: an empty collection.
UnfilteredMemberships = Literal["error", "empty"]

#: Which orgs a login token carries: the realm's "Included token data" (JWT scopes) setting.
#: AuthRocket leaves org data out of tokens unless the realm adds it
#: (authrocket.com/docs/ui_guide/settings_sessions, "Included token data"; the realm's
#: ``jwt_scopes``, authrocket-ruby lib/authrocket/realm.rb), and with it on, LoginRocket
#: "always sends a JWT with exactly one membership/org; other API generated JWTs may vary"
#: (authrocket-ruby lib/authrocket/rails/controller_helper.rb, ``current_membership``).
#:
#: * ``"selected"``: the selected org only (``orgs``/``m`` with one entry), as LoginRocket does.
#: * ``"all"``: every org of the user, the selected one marked.
#: * ``"none"``: no org data: neither ``orgs`` (AuthRocket 2) nor ``m`` (AuthRocket 1).
TokenOrgs = Literal["selected", "all", "none"]

#: What a new email typed on LoginRocket's profile page does. authrocket.com/docs/api/users
#: ("Email pending") offers both ways; which one the hosted page takes is not documented.
#:
#: * ``"verify"``: the address waits in ``email_pending`` (``user.email.updating``) and
#:   becomes the email once verified (``user.email.verified``).
#: * ``"immediate"``: the email changes at once (``user.profile.updated``) and its
#:   ``email_verification`` becomes ``requested``.
ProfileEmailChange = Literal["verify", "immediate"]


@dataclass
class RealmOptions:
    """How this emulated realm answers where AuthRocket's behaviour is uncertain.

    Assigning an unknown option or value raises at once, so a typo cannot leave a test
    running under the default.
    """

    lr_signup: LrSignup = "open"
    lr_org_mode: LrOrgMode = "single_user"
    lr_without_org: LrWithoutOrg = "create_org"
    lr_required_profile: LrRequiredProfile = "none"
    lr_email_verification: LrEmailVerification = "optional"
    lr_rate_limit_by: LrRateLimitBy = "connection"
    lr_error_shape: LrErrorShape = "strings"
    #: Origins allowed to call the LoginRocket API from a browser (``https://app.example``,
    #: ``http://localhost:4000``; ``*`` for any): "Accessing the LoginRocket API", AR2.
    lr_cors_origins: tuple[str, ...] = ()
    #: LoginRocket API requests allowed per client in ``lr_rate_window`` seconds ("tightly
    #: rate limited", the same page; the figures are the emulator's choice).
    lr_rate_limit: int = 60
    lr_rate_window: int = 60
    session_answer: SessionAnswer = "documented"
    expired_token_lookup: ExpiredTokenLookup = "not_found"
    jwks_shape: JwksShape = "full"
    custom_on_get: CustomOnGet = "expand"
    unfiltered_memberships: UnfilteredMemberships = "error"
    profile_email_change: ProfileEmailChange = "verify"
    token_orgs: TokenOrgs = "selected"

    def __setattr__(self, name: str, value: Any) -> None:
        check = _CHECKS.get(name)
        if check is not None:
            object.__setattr__(self, name, check(name, value))
            return
        choices = _CHOICES.get(name)
        if choices is None:
            known = ", ".join([*_CHOICES, *_CHECKS])
            raise AttributeError(f"no realm option {name!r}; options: {known}")
        if value not in choices:
            raise ValueError(f"realm option {name} must be one of {choices}, not {value!r}")
        object.__setattr__(self, name, value)

    def update(self, **changes: Any) -> RealmOptions:
        """Change some options in place (validated); returns self."""
        for name, value in changes.items():
            setattr(self, name, value)
        return self

    def restore(self, other: RealmOptions) -> None:
        """Take every value of ``other`` (in place: the emulator's parts share this object)."""
        self.update(**dataclasses.asdict(other))


# -- The LoginRocket API (loginrocket_api.py); sources in that module and docs/testing.md. --

#: Who may sign up through ``POST /v2/signup``: anyone (``open``), holders of an emailed
#: invitation (``invitation``; ``POST /v2/signup/request`` asks for one) or nobody
#: (``closed``). The realm setting ``signup`` of authrocket-js loginrocket-js/test/
#: loginrocket_test.js ("requestInvitation", "signup").
LrSignup = Literal["open", "invitation", "closed"]
#: The realm's ``org_mode`` (loginrocket_test.js "getSession"): a session read without an
#: ``account`` is a full login for the first org (``single_user``) or a ``conditional_login``
#: with ``no_account_selected`` (``multi_user``).
LrOrgMode = Literal["single_user", "multi_user"]
#: A ``single_user`` login of a person with no org: ``create_org`` (an org is made for them,
#: the comment in loginrocket_test.js "getSession" when no org name is required),
#: ``must_complete_profile`` (the same comment, when an org name is required) or
#: ``no_account`` (a full login with ``account: null``, as the hosted pages do; emulator's
#: choice).
LrWithoutOrg = Literal["create_org", "no_account", "must_complete_profile"]
#: Profile fields a login needs (``must_complete_profile`` until given by ``PUT profile``):
#: none, or ``name`` (first and last name). Emulator's choice of fields, not documented.
LrRequiredProfile = Literal["none", "name"]
#: ``required``: a person whose email is not verified gets ``must_verify_email`` until
#: ``POST /v2/email/verify``. Emulator's choice of setting, not documented.
LrEmailVerification = Literal["optional", "required"]
#: Whose address the rate limit counts: the TCP peer (``connection``) or the first
#: ``X-Forwarded-For`` address (``forwarded``). Whether LoginRocket honours a forwarded
#: address is not documented.
LrRateLimitBy = Literal["connection", "forwarded"]
#: ``strings``: errors as a list of messages (loginrocket-js test/assertions.js
#: ``lrMatchesError``); ``fields`` adds a ``field_errors`` map (emulator's choice).
LrErrorShape = Literal["strings", "fields"]


_CHOICES: dict[str, tuple[str, ...]] = {
    "lr_signup": get_args(LrSignup),
    "lr_org_mode": get_args(LrOrgMode),
    "lr_without_org": get_args(LrWithoutOrg),
    "lr_required_profile": get_args(LrRequiredProfile),
    "lr_email_verification": get_args(LrEmailVerification),
    "lr_rate_limit_by": get_args(LrRateLimitBy),
    "lr_error_shape": get_args(LrErrorShape),
    "session_answer": get_args(SessionAnswer),
    "expired_token_lookup": get_args(ExpiredTokenLookup),
    "jwks_shape": get_args(JwksShape),
    "custom_on_get": get_args(CustomOnGet),
    "unfiltered_memberships": get_args(UnfilteredMemberships),
    "profile_email_change": get_args(ProfileEmailChange),
    "token_orgs": get_args(TokenOrgs),
}


def _origins(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"realm option {name} is a list of origins, not {value!r}")
    return tuple(item.rstrip("/") for item in value)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"realm option {name} is a whole number of at least 1, not {value!r}")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "lr_cors_origins": _origins,
    "lr_rate_limit": _positive,
    "lr_rate_window": _positive,
}
