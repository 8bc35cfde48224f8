"""Issue 12's hardening points, each through the path a site really takes (a login through the
emulator, the admin, ``manage.py check``), plus the mapping rules at their home.

Emails take one form (NFKC, then casefold) and reach the local user only verified; usernames
lose invisible characters and meet their look-alikes; NUL never reaches the database; the
webhook secret is long; resyncing takes the change permission; only the site's AuthRocket
generation's tokens are accepted. (Exempt URLs and the expiry: test_middleware_scope.py.)
"""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.checks import run_checks
from django.test import Client

from django_authrocket.exceptions import InvalidClaims
from django_authrocket.identity import AuthRocketSession, AuthRocketUserInfo, refuse_nul
from django_authrocket.mirror import fields
from django_authrocket.models import AuthRocketOrg, AuthRocketUser
from django_authrocket.sync import sync
from tests.helpers import EmailKeyedUser, bearer_auth, login_with

pytestmark = pytest.mark.django_db

User = get_user_model()
KELVIN_KATE = "\u212aate@example.com"  # KELVIN SIGN, then "ate": NFKC makes it "Kate"
FULLWIDTH_KATE = "\uff2bate@example.com"  # FULLWIDTH LATIN CAPITAL K


def check_ids(settings) -> set[str]:
    return {message.id for message in run_checks(tags=["authrocket"]) if message.id}


# --- emails: one form ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Kate@Example.COM", "kate@example.com"),
        (KELVIN_KATE, "kate@example.com"),
        (FULLWIDTH_KATE, "kate@example.com"),
        ("\uff4b\uff41\uff54\uff45@example.com", "kate@example.com"),
        ("Stra\u00dfe@example.de", "strasse@example.de"),
        ("kate@example.com", "kate@example.com"),
    ],
)
def test_emails_are_normalised_one_way_nfkc_then_casefold(raw, normal) -> None:
    info = AuthRocketUserInfo(id="usr_1", email=raw, email_verified=True)
    assert fields.user_fields(info)["email"] == normal  # the mirror
    assert fields.normalize_email(raw) == normal
    assert fields.normalize_email(normal) == normal  # the normal form is its own normal form


def test_a_login_stores_the_normal_form_in_the_mirror(emulator) -> None:
    user = emulator.create_user(FULLWIDTH_KATE, first_name="Kate")
    assert login_with(Client(), emulator.mint_token(user["id"])).status_code == 302
    assert AuthRocketUser.objects.get(authrocket_id=user["id"]).email == "kate@example.com"


# --- emails: the local user takes only verified ones ------------------------------------------


def test_an_unverified_email_never_reaches_the_local_user(emulator) -> None:
    user = emulator.create_user("grace@example.com", username="grace", email_verification="none")
    assert login_with(Client(), emulator.mint_token(user["id"])).status_code == 302
    local = User.objects.get(authrocket__authrocket_id=user["id"])
    assert local.email == ""
    mirror = AuthRocketUser.objects.get(authrocket_id=user["id"])
    assert (mirror.email, mirror.email_verification) == ("grace@example.com", "none")

    emulator.verify_email(user["id"])
    assert login_with(Client(), emulator.mint_token(user["id"])).status_code == 302
    local.refresh_from_db()
    assert local.email == "grace@example.com"


def test_a_new_unverified_address_leaves_the_verified_one(emulator) -> None:
    user = emulator.create_user("grace@example.com", username="grace")
    assert login_with(Client(), emulator.mint_token(user["id"])).status_code == 302
    claims = {"email": "grace@elsewhere.example", "email_verified": False}
    assert login_with(Client(), emulator.mint_token(user["id"], claims=claims)).status_code == 302
    local = User.objects.get(authrocket__authrocket_id=user["id"])
    assert local.email == "grace@example.com"


def test_a_look_alike_address_never_becomes_another_persons(emulator) -> None:
    """Kate's local account holds kate@example.com; someone signs up as "\u212aate@...". Even
    verified, the look-alike is not copied: its normal form is Kate's address."""
    User.objects.create_user("kate", email="kate@example.com")
    # (The emulator, like AuthRocket, lower-cases emails, and "\u212a".lower() is already "k";
    # a fullwidth K survives that and stands for every look-alike here.)
    mallory = emulator.create_user(FULLWIDTH_KATE, username="mallory")
    assert login_with(Client(), emulator.mint_token(mallory["id"])).status_code == 302
    local = User.objects.get(authrocket__authrocket_id=mallory["id"])
    assert local.email == ""
    assert User.objects.filter(email__iexact="kate@example.com").count() == 1
    info = AuthRocketUserInfo(id="usr_1", email=KELVIN_KATE, email_verified=True)
    assert "email" not in fields.local_user_fields(info, User)


def test_a_sync_copies_only_verified_emails_to_local_users(emulator) -> None:
    verified = emulator.create_user("ada@example.com", username="ada")
    unverified = emulator.create_user("bob@example.com", username="bob", email_verification="none")
    sync()
    assert User.objects.get(authrocket__authrocket_id=verified["id"]).email == "ada@example.com"
    assert User.objects.get(authrocket__authrocket_id=unverified["id"]).email == ""


def test_an_email_username_is_taken_only_when_verified() -> None:
    EmailUser = EmailKeyedUser
    unverified = AuthRocketUserInfo(id="usr_0123456789abcdef", email="Kate@Example.com")
    verified = AuthRocketUserInfo(
        id="usr_0123456789abcdef", email="Kate@Example.com", email_verified=True
    )
    assert fields.username_candidates(unverified, EmailUser) == ["usr_0123456789abcdef"]
    assert fields.username_candidates(verified, EmailUser) == [
        "kate@example.com",
        "usr_0123456789abcdef",
    ]


# --- usernames ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["a\u200bda", "\u200dada\u200c", "\ufeffada", "ad\x00a", "a\u2060da", "\uff41\uff44\uff41"],
    ids=["zwsp", "zwj-zwnj", "bom", "nul", "word-joiner", "fullwidth"],
)
def test_usernames_lose_invisible_characters_and_nul_and_are_nfkc(raw) -> None:
    info = AuthRocketUserInfo(id="usr_0123456789abcdef", username=raw)
    assert fields.username_candidates(info, User)[0] == "ada"
    assert fields.user_fields(info)["username"] == "ada"  # the mirror row too
    assert fields.clean_username(raw) == "ada"


@pytest.mark.parametrize("look_alike", ["a\u200bda", "\uff41\uff44\uff41"])
def test_a_look_alike_username_meets_the_name_it_imitates(emulator, look_alike) -> None:
    User.objects.create_user("ada")
    mallory = emulator.create_user("mallory@example.com", username=look_alike)
    assert login_with(Client(), emulator.mint_token(mallory["id"])).status_code == 302
    local = User.objects.get(authrocket__authrocket_id=mallory["id"])
    assert local.username == f"ada-{mallory['id'][-8:]}"  # not a second, look-alike "ada"


# --- NUL in claims ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"name": "Ada\x00"},
        {"preferred_username": "ad\x00a"},
        {"email": "ada@example.com\x00"},
        {"cs": {"team": "eng\x00ines"}},
        {"cs": {"te\x00am": "engines"}},
        {"cs": {"nested": [{"deep": ["\x00"]}]}},
    ],
    ids=["name", "username", "email", "custom-value", "custom-key", "nested"],
)
def test_nul_in_any_claim_is_refused_before_the_database(emulator, ada, claims) -> None:
    response = login_with(Client(), emulator.mint_token(ada["id"], claims=claims))
    assert response.status_code == 401
    assert not AuthRocketUser.objects.exists()
    with pytest.raises(Exception, match="NUL"):
        AuthRocketSession.from_claims(
            {"sub": "usr_1", "sid": "kss_1", "iat": 1, "exp": 2, **claims}
        )


@pytest.mark.parametrize(
    "data",
    [
        {"a": ("x\x00",)},  # a tuple: not JSON-shaped, the naming walk decides
        MappingProxyType({"a": "x\x00"}),
        {"a": MappingProxyType({"b": ["\x00"]})},
        {1: {"k\x00": 2}},  # a member name that is not a string
        {"a": [1, 2.5, True, None, {"b": [["\x00"]]}]},
    ],
    ids=["tuple", "mapping-proxy", "nested-proxy", "int-key", "deep-list"],
)
def test_nul_in_any_shape_of_mapping_is_refused(data) -> None:
    # refuse_nul first tries a quick walk of plain JSON data and names nothing; anything else
    # (or a NUL) goes to the walk that names the claim. Both must end in a refusal.
    with pytest.raises(InvalidClaims, match="NUL"):
        refuse_nul(data)
    refuse_nul({"a": [1, 2.5, True, None, {"b": [["x"]]}], "c": ("y",)})  # nothing to refuse


def test_nul_in_a_get_session_answer_is_refused(emulator, ada) -> None:
    answer = {
        "object": "session",
        "id": "kss_1",
        "user_id": "usr_1",
        "user": {"object": "user", "id": "usr_1", "name": "Ada\x00"},
    }
    with pytest.raises(Exception, match="NUL"):
        AuthRocketSession.from_api(answer)


# --- the webhook secret -----------------------------------------------------------------------


def test_a_webhook_secret_under_32_characters_is_e013(settings) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = "s" * 31
    assert "authrocket.E013" in check_ids(settings)
    settings.AUTHROCKET_WEBHOOK_SECRET = "s" * 32
    assert "authrocket.E013" not in check_ids(settings)
    settings.AUTHROCKET_WEBHOOK_SECRET = None  # no webhook: nothing to guess
    assert "authrocket.E013" not in check_ids(settings)


# --- the admin's resync -------------------------------------------------------------------------


@pytest.mark.parametrize("model", [AuthRocketUser, AuthRocketOrg], ids=lambda m: m.__name__)
def test_resync_takes_the_change_permission_not_only_view(emulator, ada, model) -> None:
    sync()
    name = model._meta.model_name
    changelist = f"/admin/django_authrocket/{name}/"
    selected = [row.pk for row in model.objects.all()]
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename=f"view_{name}"))
    client = Client()
    client.force_login(viewer)

    page = client.get(changelist)
    assert page.status_code == 200
    form = page.context["action_form"]
    assert form is None or "resync_from_authrocket" not in dict(form.fields["action"].choices)
    emulator.clear_requests()
    client.post(changelist, {"action": "resync_from_authrocket", "_selected_action": selected})
    assert emulator.requests == []  # nothing was read, nothing written

    viewer.user_permissions.add(Permission.objects.get(codename=f"change_{name}"))
    client.force_login(User.objects.get(pk=viewer.pk))  # a fresh permission cache
    choices = dict(client.get(changelist).context["action_form"].fields["action"].choices)
    assert "resync_from_authrocket" in choices
    response = client.post(
        changelist, {"action": "resync_from_authrocket", "_selected_action": selected}
    )
    assert response.status_code == 302
    assert emulator.requests  # read again through the Core API


# --- token shape: only the site's generation -----------------------------------------------------


def test_an_ar1_token_is_refused_where_authrocket_2_is_configured(
    settings, caplog, emulator, ada
) -> None:
    settings.AUTHROCKET_URL = emulator.api_url(2)
    settings.AUTHROCKET_JWT_KEY = emulator.jwt_secret  # a key that verifies AR1's signature
    token = emulator.mint_token(ada["id"], generation=1)

    response = login_with(Client(), token)
    assert response.status_code == 401
    assert b"Reference: wrong_generation" in response.content
    assert "an AuthRocket 1 token, but this site uses AuthRocket 2" in caplog.text
    bearer = Client().get("/api/me/", **bearer_auth(emulator.mint_token(ada["id"], generation=1)))
    assert bearer.status_code == 401 and bearer.json()["error"] == "wrong_generation"

    settings.AUTHROCKET_URL = emulator.api_url(1)  # the same token, at an AuthRocket 1 site
    assert login_with(Client(), emulator.mint_token(ada["id"], generation=1)).status_code == 302


def test_an_ar2_token_is_refused_where_authrocket_1_is_configured(
    settings, caplog, emulator, ada
) -> None:
    settings.AUTHROCKET_URL = emulator.api_url(1)
    settings.AUTHROCKET_JWT_KEY = emulator.jwt_secret
    token = emulator.mint_token(ada["id"], algorithm="HS256")
    assert json.loads(_payload(token))["sid"].startswith("kss_")

    response = login_with(Client(), token)
    assert response.status_code == 401
    assert b"Reference: wrong_generation" in response.content
    assert "an AuthRocket 2 token, but this site uses AuthRocket 1" in caplog.text


def _payload(token: str) -> bytes:
    import base64

    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
