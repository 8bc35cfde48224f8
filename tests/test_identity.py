"""AuthRocketSession: one shape for AR2 claims, AR1 claims and Get Session answers."""

from __future__ import annotations

import pytest

from django_authrocket.exceptions import InvalidClaims
from django_authrocket.identity import AuthRocketSession, permission_matches

AR2 = {
    "iss": "https://authrocket.com",
    "iat": 1_764_000_000,
    "exp": 1_764_003_600,
    "sub": "usr_1",
    "sid": "kss_1",
    "rid": "rl_1",
    "name": "Ada Lovelace",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "preferred_username": "ada",
    "email": "ada@example.com",
    "email_verified": True,
    "ref": "crm-42",
    "cs": {"plan": "pro"},
    "orgs": [
        {"mid": "mb_1", "oid": "org_1", "name": "One", "perm": ["reports:read"], "selected": False},
        {
            "mid": "mb_2",
            "oid": "org_2",
            "name": "Two",
            "perm": ["ar:admin", "billing:*"],
            "selected": True,
            "ref": "t2",
            "cs": {"tier": 2},
        },
    ],
}


@pytest.mark.parametrize(
    ("granted", "wanted", "expected"),
    [
        ("ar:admin", "ar:admin", True),
        ("ar:admin", "ar:owner", False),
        ("billing:*", "billing:read", True),
        ("billing:*", "billing:invoices:read", True),
        ("billing:*", "billingx:read", False),
        ("billing:*", "billing", False),
        ("*", "anything:at:all", True),
        ("billing:read", "billing:*", False),
    ],
)
def test_permission_matching(granted, wanted, expected) -> None:
    assert permission_matches(granted, wanted) is expected


def test_ar2_claims_map_to_user_and_memberships() -> None:
    session = AuthRocketSession.from_claims(AR2)
    assert session.id == "kss_1" and session.generation == 2
    assert session.user.id == "usr_1"
    assert (session.user.first_name, session.user.last_name, session.user.username) == (
        "Ada",
        "Lovelace",
        "ada",
    )
    assert session.user.email_verified is True and session.user.custom == {"plan": "pro"}
    assert session.user.realm_id == "rl_1" and session.user.reference == "crm-42"
    assert [m.org.id for m in session.memberships] == ["org_1", "org_2"]
    assert session.selected_org is not None and session.selected_org.name == "Two"
    assert session.selected_org.reference == "t2" and session.selected_org.custom == {"tier": 2}
    assert session.expires_at is not None and session.expires_at.timestamp() == AR2["exp"]


def test_permissions_apply_to_the_selected_org_only_unless_asked() -> None:
    session = AuthRocketSession.from_claims(AR2)
    assert session.has_perm("ar:admin") and session.has_perm("billing:refunds")
    assert not session.has_perm("reports:read")
    assert session.has_perm("reports:read", org_id="org_1")
    assert session.permissions == ("ar:admin", "billing:*")


def test_without_a_selected_flag_the_first_membership_is_current() -> None:
    claims = {**AR2, "orgs": [{**o, "selected": False} for o in AR2["orgs"]]}
    assert AuthRocketSession.from_claims(claims).selected_org.id == "org_1"


def test_no_orgs_means_no_permissions() -> None:
    claims = {k: v for k, v in AR2.items() if k != "orgs"}
    session = AuthRocketSession.from_claims(claims)
    assert session.selected_membership is None and not session.has_perm("ar:admin")


def test_no_org_data_is_not_the_same_as_no_orgs() -> None:
    # A realm leaves org data out of its tokens unless its settings add it
    # (authrocket.com/docs/ui_guide/settings_sessions); the Ruby library reads a missing "m" as
    # nil, not as an empty list (authrocket-ruby lib/authrocket/session.rb).
    ar2 = {k: v for k, v in AR2.items() if k != "orgs"}
    ar1 = {"uid": "usr_1", "tk": "kss_1", "iat": 1, "exp": 2}
    answer = {"object": "session", "id": "kss_1", "user": {"object": "user", "id": "usr_1"}}

    silent = [
        AuthRocketSession.from_claims(ar2),
        AuthRocketSession.from_claims(ar1),
        AuthRocketSession.from_api(answer),
    ]
    empty = [
        AuthRocketSession.from_claims({**ar2, "orgs": []}),
        AuthRocketSession.from_claims({**ar1, "m": []}),
        AuthRocketSession.from_api({**answer, "user": {**answer["user"], "memberships": []}}),
    ]

    assert [s.memberships for s in silent] == [None, None, None]
    assert not any(s.has_org_data for s in silent)
    assert [s.memberships for s in empty] == [(), (), ()]
    assert all(s.has_org_data for s in empty)
    for session in silent + empty:
        assert session.selected_membership is None and session.permissions == ()
        assert not session.has_perm("ar:admin") and session.membership_for("org_1") is None


def test_ar1_short_claims_map_to_the_same_shape() -> None:
    session = AuthRocketSession.from_claims(
        {
            "uid": "usr_9",
            "tk": "kss_9",
            "aud": "rl_9",
            "un": "bob",
            "fn": "Bob",
            "ln": "Byte",
            "iat": 1,
            "exp": 2,
            "m": [
                {"oid": "org_9", "o": "Nine", "p": ["ar:owner"], "cs": {"a": 1}, "ocs": {"b": 2}}
            ],
        }
    )
    assert session.generation == 1 and session.id == "kss_9"
    assert session.user.name == "Bob Byte" and session.user.realm_id == "rl_9"
    membership = session.selected_membership
    assert membership.org.name == "Nine" and membership.custom == {"a": 1}
    assert membership.org.custom == {"b": 2} and session.has_perm("ar:owner")


@pytest.mark.parametrize(
    "bad",
    [
        {"sub": 42},
        {"orgs": "org_1"},
        {"orgs": [{"oid": "org_1", "perm": ["ok", 1]}]},
        {"orgs": [{"perm": []}]},
        {"email_verified": "yes"},
        {"cs": ["not", "an", "object"]},
        {"exp": "9999999999"},
        {"exp": 1e300},
    ],
)
def test_wrongly_typed_claims_are_invalid_claims(bad) -> None:
    with pytest.raises(InvalidClaims):
        AuthRocketSession.from_claims({**AR2, **bad})


def test_claims_without_an_authrocket_shape_are_refused() -> None:
    with pytest.raises(InvalidClaims):
        AuthRocketSession.from_claims({"iat": 1, "exp": 2, "hello": "world"})


def test_get_session_answer_maps_like_a_token() -> None:
    answer = {
        "object": "session",
        "id": "kss_5",
        "user_id": "usr_5",
        "created_at": 1735689600.0,
        "expires_at": 1735693200,
        "user": {
            "object": "user",
            "id": "usr_5",
            "email": "eve@example.com",
            "email_verification": "verified",
            "first_name": "Eve",
            "last_name": "Ng",
            "name": "Eve Ng",
            "realm_id": "rl_5",
            "memberships": [
                {
                    "object": "membership",
                    "id": "mb_5",
                    "org_id": "org_5",
                    "permissions": ["x:y"],
                    "selected": True,
                    "org": {"object": "org", "id": "org_5", "name": "Five"},
                },
            ],
        },
    }
    session = AuthRocketSession.from_api(answer)
    assert session.id == "kss_5" and session.user.email_verified is True
    assert session.selected_org.name == "Five" and session.has_perm("x:y")
    assert session.issued_at.timestamp() == 1735689600.0


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"object": "user", "id": "usr_1"},
        {"object": "session", "id": "kss_1"},
        {"object": "session", "id": "kss_1", "user_id": "usr_2", "user": {"id": "usr_1"}},
        {
            "object": "session",
            "id": "kss_1",
            "user": {"id": "usr_1", "memberships": [{"id": "mb"}]},
        },
    ],
)
def test_unusable_api_answers_are_invalid_claims(answer) -> None:
    with pytest.raises(InvalidClaims):
        AuthRocketSession.from_api(answer)


@pytest.mark.parametrize("value", ["x" * 40, "", 3, ["verified"], None])
def test_an_unknown_email_verification_from_the_api_is_unknown(value) -> None:
    answer = {
        "object": "session",
        "id": "kss_1",
        "user_id": "usr_1",
        "user": {"id": "usr_1", "email": "a@example.com", "email_verification": value},
    }
    user = AuthRocketSession.from_api(answer).user
    assert user.email_verification is None
    assert user.email_verified is None
