"""Staff status comes from the site's staff org (issue 12, finding 5).

``AUTHROCKET_STAFF_PERMISSION`` makes someone ``is_staff`` only through their membership of
``AUTHROCKET_STAFF_ORG``, whichever org their session selected: ``ar:admin`` and ``ar:owner`` are
per-org permissions that every customer holds in their own org.

The tests with Grace run under the three token shapes (``token_orgs``): LoginRocket's token names
the selected org only, so her staff membership is known from the mirror, which the sync fills
(:func:`~tests.helpers.mirror_memberships_from_api`), unless the realm's tokens list every org.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import Error, run_checks
from django.test import Client
from django.utils import timezone

from django_authrocket.backends import get_backend
from django_authrocket.models import AuthRocketMembership, AuthRocketOrg
from django_authrocket.tokens import verify_token
from tests.helpers import logged_in, login_with, memberships_of, mirror_memberships_from_api

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def staff_org(emulator, settings):  # type: ignore[no-untyped-def]
    """The site's own org, named in AUTHROCKET_STAFF_ORG; its admins are staff."""
    org = emulator.create_org("Site Staff", reference="site-staff")
    settings.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    settings.AUTHROCKET_STAFF_ORG = org["id"]
    return org


@pytest.fixture
def customer_org(emulator):  # type: ignore[no-untyped-def]
    return emulator.create_org("Customer Inc")


@pytest.fixture
def mallory(emulator, customer_org):  # type: ignore[no-untyped-def]
    """Owner and admin of the org she created: a customer, not the site's staff."""
    user = emulator.create_user("mallory@example.com", username="mallory")
    emulator.create_membership(
        user["id"], customer_org["id"], permissions=["ar:owner", "ar:admin"], selected=True
    )
    return user


@pytest.fixture
def grace(emulator, staff_org, customer_org, token_orgs):  # type: ignore[no-untyped-def]
    """Admin of the staff org, and a plain member of a customer org (selected)."""
    user = emulator.create_user("grace@example.com", username="grace")
    emulator.create_membership(user["id"], staff_org["id"], permissions=["ar:admin"])
    emulator.create_membership(
        user["id"], customer_org["id"], permissions=["reports:read"], selected=True
    )
    return user


def local(username: str):  # type: ignore[no-untyped-def]
    return User.objects.get(username=username)


def test_an_admin_of_their_own_org_is_not_staff(emulator, staff_org, mallory) -> None:
    logged_in(emulator, mallory)

    assert not local("mallory").is_staff
    assert not local("mallory").is_superuser


def test_a_staff_org_admin_is_staff_while_a_customer_org_is_selected(
    emulator, grace, customer_org, token_orgs
) -> None:
    logged_in(emulator, grace, org_id=customer_org["id"])
    # Only a token listing every org tells of the staff membership at a first login.
    assert local("grace").is_staff == (token_orgs == "all")

    mirror_memberships_from_api(grace["id"])  # the sync (or a webhook) brings it
    logged_in(emulator, grace, org_id=customer_org["id"])

    assert local("grace").is_staff


def test_switching_the_selected_org_does_not_toggle_is_staff(
    emulator, grace, staff_org, customer_org, token_orgs
) -> None:
    mirror_memberships_from_api(grace["id"])  # the site's sync has run
    client = Client()
    seen = []
    for org in (customer_org, staff_org, customer_org):
        token = emulator.mint_token(grace["id"], org_id=org["id"])
        assert login_with(client, token).status_code == 302
        if token_orgs != "none":  # a token without org data names no selected org
            assert client.get("/private/").json()["org"] == org["id"]  # the switch happened
        seen.append(local("grace").is_staff)

    assert seen == [True, True, True]


def test_switching_orgs_never_makes_a_customer_admin_staff(
    emulator, staff_org, mallory, customer_org
) -> None:
    other = emulator.create_org("Mallory Two")
    emulator.create_membership(mallory["id"], other["id"], permissions=["ar:admin"])
    client = Client()
    for org in (customer_org, other, customer_org):
        token = emulator.mint_token(mallory["id"], org_id=org["id"])
        assert login_with(client, token).status_code == 302
        assert not local("mallory").is_staff


def test_the_staff_org_can_be_named_by_reference(settings, emulator, grace) -> None:
    settings.AUTHROCKET_STAFF_ORG = ["org_not_this_realm", "site-staff"]
    mirror_memberships_from_api(grace["id"])

    logged_in(emulator, grace)

    assert local("grace").is_staff


def test_an_org_id_is_never_matched_against_another_orgs_reference(
    settings, emulator, staff_org, mallory
) -> None:
    # Mallory's org carries the staff org's id as its reference: an id names an id, only.
    decoy = emulator.create_org("Decoy", reference=staff_org["id"])
    emulator.create_membership(mallory["id"], decoy["id"], permissions=["ar:admin"])

    logged_in(emulator, mallory, org_id=decoy["id"])

    assert not local("mallory").is_staff


def test_losing_the_permission_in_the_staff_org_withdraws_staff(emulator, grace) -> None:
    mirror_memberships_from_api(grace["id"])
    logged_in(emulator, grace)
    assert local("grace").is_staff
    membership = next(
        m for m in memberships_of(emulator, grace["id"]) if m["permissions"] == ["ar:admin"]
    )
    emulator.update_membership(membership["id"], permissions=["reports:read"])
    mirror_memberships_from_api(grace["id"])  # the webhook of the change

    logged_in(emulator, grace)

    assert not local("grace").is_staff


def test_a_token_without_orgs_is_decided_by_the_mirrored_staff_membership(emulator, grace) -> None:
    logged_in(emulator, grace)
    mirror_memberships_from_api(grace["id"])  # the mirror learns the memberships
    User.objects.filter(username="grace").update(is_staff=False)

    logged_in(emulator, grace, drop_claims=["orgs"])  # a realm whose tokens carry no orgs
    assert local("grace").is_staff

    logged_in(emulator, grace, drop_claims=["orgs"])  # and no later login resets it
    assert local("grace").is_staff


def test_a_token_naming_only_the_selected_org_falls_back_to_the_mirror(
    emulator, grace, customer_org
) -> None:
    # LoginRocket sends only the selected org ("LR always sends a JWT with exactly one
    # membership/org": authrocket-ruby lib/authrocket/rails/controller_helper.rb); the staff
    # membership is then in the mirror. The token is built by hand, whatever the realm's shape.
    logged_in(emulator, grace)
    mirror_memberships_from_api(grace["id"])
    User.objects.filter(username="grace").update(is_staff=False)
    only_selected = [
        {
            "oid": customer_org["id"],
            "name": "Customer Inc",
            "perm": ["reports:read"],
            "selected": True,
        }
    ]

    for _ in range(2):  # a full login, twice: the first sets is_staff, the second keeps it
        logged_in(emulator, grace, claims={"orgs": only_selected})
        assert local("grace").is_staff


@pytest.mark.parametrize("lapse", ["expired", "closed"])
def test_an_expired_membership_or_closed_staff_org_in_the_mirror_grants_nothing(
    emulator, grace, staff_org, lapse
) -> None:
    logged_in(emulator, grace)
    mirror_memberships_from_api(grace["id"])
    if lapse == "expired":
        AuthRocketMembership.objects.filter(org__authrocket_id=staff_org["id"]).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    else:
        AuthRocketOrg.objects.filter(authrocket_id=staff_org["id"]).update(state="closed")

    logged_in(emulator, grace, drop_claims=["orgs"])

    assert not local("grace").is_staff


def test_without_a_staff_org_no_one_is_staff(settings, emulator, grace) -> None:
    mirror_memberships_from_api(grace["id"])
    logged_in(emulator, grace)
    assert local("grace").is_staff
    settings.AUTHROCKET_STAFF_ORG = ()

    logged_in(emulator, grace)

    assert not local("grace").is_staff


def test_staff_org_grants_answers_for_other_permissions_of_the_staff_org(
    emulator, grace, mallory
) -> None:
    backend = get_backend()
    mirror_memberships_from_api(grace["id"], mallory["id"])
    grace_session = verify_token(emulator.mint_token(grace["id"]))
    mallory_session = verify_token(emulator.mint_token(mallory["id"]))

    assert backend.staff_org_grants(grace_session, "ar:admin")
    assert not backend.staff_org_grants(grace_session, "ar:owner")
    assert not backend.staff_org_grants(mallory_session, "ar:owner")  # owner of her own org


def test_a_staff_permission_without_a_staff_org_is_a_check_error(settings) -> None:
    settings.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    settings.AUTHROCKET_STAFF_ORG = ()

    errors = [m for m in run_checks() if m.id == "authrocket.E020"]

    assert len(errors) == 1 and isinstance(errors[0], Error)
    assert "AUTHROCKET_STAFF_ORG" in errors[0].hint

    settings.AUTHROCKET_STAFF_ORG = "org_staff"
    assert not [m for m in run_checks() if m.id == "authrocket.E020"]
