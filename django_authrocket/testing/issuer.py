"""Minting login tokens for the realm's sessions (what LoginRocket does after a login)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from .claims import Memberships, ar1_claims, ar2_claims, selected_membership
from .ids import random_token
from .options import RealmOptions, TokenOrgs
from .records import SessionRecord
from .signing import KeyRing, sign_jws
from .store import Invalid, Store

#: The claim that marks every token (and Get Session answer) the emulator makes, so a site
#: refuses them outside DEBUG and tests (``django_authrocket.tokens.EMULATOR_CLAIM``; not an
#: AuthRocket claim: real tokens never carry it). ``drop_claims=["emu"]`` mints one without.
EMULATOR_MARKER = "emu"


class TokenIssuer:
    """Creates sessions and signs AR1/AR2 tokens for them with the realm's keys."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        *,
        algorithm: str,
        token_ttl: int,
        options: RealmOptions | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.algorithm = algorithm
        self.token_ttl = token_ttl
        #: The realm options (shared with the emulator); ``token_orgs`` shapes the org claims.
        self.options = options or RealmOptions()

    def login(
        self, user_id: str, *, org_id: str | None = None, generation: int = 2
    ) -> tuple[SessionRecord, str]:
        """Start a session for the user and return it with its login token."""
        session = self.store.create_session(user_id, org_id=org_id)
        return session, self.mint(session_id=session.id, generation=generation)

    def mint(
        self,
        user_id: str | None = None,
        *,
        session_id: str | None = None,
        generation: int = 2,
        algorithm: str | None = None,
        ttl: int | None = None,
        issued_at: int | None = None,
        claims: Mapping[str, Any] | None = None,
        drop_claims: Iterable[str] = (),
        headers: Mapping[str, Any] | None = None,
        kid: str | None = None,
        org_id: str | None = None,
        key: object | None = None,
    ) -> str:
        """Sign a token for a session; see ``AuthRocketEmulator.mint_token`` for the arguments."""
        if generation not in (1, 2):
            raise ValueError("generation must be 1 or 2")
        session = self._session_for(user_id, session_id, org_id)
        user = self.store.get_user(session.user_id)
        memberships = self.store.memberships_of(user.id)
        if org_id is not None and not any(m.org_id == org_id for m, _ in memberships):
            raise Invalid(f"User {user.id} is not a member of org {org_id}")

        selected_org_id = org_id or session.org_id
        carried = _token_orgs(memberships, selected_org_id, self.options.token_orgs)
        iat = int(time.time()) if issued_at is None else issued_at
        # By default a token does not outlive its session; an explicit ttl is taken as given.
        exp = min(iat + self.token_ttl, session.expires_at) if ttl is None else iat + ttl
        if generation == 2:
            token_claims = ar2_claims(
                user,
                session,
                carried,
                selected_org_id=selected_org_id,
                issued_at=iat,
                expires_at=exp,
            )
        else:
            token_claims = ar1_claims(user, session, carried, issued_at=iat, expires_at=exp)
        token_claims[EMULATOR_MARKER] = True
        token_claims.update(claims or {})
        for name in drop_claims:
            token_claims.pop(name, None)

        alg = algorithm or (self.algorithm if generation == 2 else "HS256")
        header: dict[str, Any] = {}
        if alg[:2] in ("RS", "PS", "ES") or kid is not None:
            header["kid"] = kid or self.keys.current.kid
        header.update(headers or {})
        if key is None:
            key = self.keys.jwt_secret if alg.startswith("HS") else self.keys.current
        return sign_jws(token_claims, algorithm=alg, key=key, headers=header)

    def _session_for(
        self, user_id: str | None, session_id: str | None, org_id: str | None
    ) -> SessionRecord:
        if session_id is None:
            if user_id is None:
                email = f"user-{random_token(8).lower()}@example.com"
                user_id = self.store.create_user(email=email).id
            return self.store.create_session(user_id, org_id=org_id)
        session = self.store.get_session(session_id, include_expired=True)
        if user_id is not None and self.store.get_user(user_id).id != session.user_id:
            raise Invalid(f"Session {session_id} belongs to another user")
        return session


def _token_orgs(
    memberships: Memberships, selected_org_id: str | None, shape: TokenOrgs
) -> Memberships | None:
    """The memberships a token of this realm carries (realm option ``token_orgs``, see
    options.py): all of them, the selected one only, or None for no org data at all."""
    if shape == "none":
        return None
    if shape == "selected" and memberships:
        chosen = selected_membership(memberships, selected_org_id)
        return [pair for pair in memberships if pair[0] is chosen]
    return memberships
