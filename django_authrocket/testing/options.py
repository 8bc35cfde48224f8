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


@dataclass
class RealmOptions:
    """How this emulated realm answers where AuthRocket's behaviour is uncertain.

    Assigning an unknown option or value raises at once, so a typo cannot leave a test
    running under the default.
    """

    session_answer: SessionAnswer = "documented"
    expired_token_lookup: ExpiredTokenLookup = "not_found"
    jwks_shape: JwksShape = "full"
    custom_on_get: CustomOnGet = "expand"
    unfiltered_memberships: UnfilteredMemberships = "error"
    token_orgs: TokenOrgs = "selected"

    def __setattr__(self, name: str, value: Any) -> None:
        choices = _CHOICES.get(name)
        if choices is None:
            raise AttributeError(f"no realm option {name!r}; options: {', '.join(_CHOICES)}")
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


_CHOICES: dict[str, tuple[str, ...]] = {
    "session_answer": get_args(SessionAnswer),
    "expired_token_lookup": get_args(ExpiredTokenLookup),
    "jwks_shape": get_args(JwksShape),
    "custom_on_get": get_args(CustomOnGet),
    "unfiltered_memberships": get_args(UnfilteredMemberships),
    "token_orgs": get_args(TokenOrgs),
}
