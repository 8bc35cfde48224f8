"""The local mirror of AuthRocket users, orgs and memberships.

AuthRocket is the source of truth: these rows are written by logins, sync and webhooks, and read
by the site (foreign keys, reports, the admin). A local user is tied to its AuthRocket user by
``authrocket_id``, never by email: an email can change hands, an id cannot.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .identity import permission_matches
from .redaction import shown_session


class MirrorState(models.TextChoices):
    ACTIVE = "active", _("active")
    INACTIVE = "inactive", _("inactive")
    CLOSED = "closed", _("closed")  # orgs only


class AuthRocketUser(models.Model):
    """An AuthRocket user, tied one-to-one to a local ``AUTH_USER_MODEL`` user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="authrocket",
        verbose_name=_("local user"),
    )
    authrocket_id = models.CharField(_("AuthRocket id"), max_length=64, unique=True)
    realm_id = models.CharField(_("realm id"), max_length=64, blank=True, db_index=True)
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    username = models.CharField(_("username"), max_length=150, blank=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=MirrorState.choices, default=MirrorState.ACTIVE
    )
    email_verification = models.CharField(_("email verification"), max_length=16, blank=True)
    reference = models.CharField(_("reference"), max_length=255, blank=True)
    custom = models.JSONField(_("custom attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at AuthRocket"), null=True, blank=True)
    last_login_at = models.DateTimeField(_("last login"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)
    #: A digest of what the last login's session said about this person (user claims and
    #: memberships), stored once the mirror matched it; replaced with a fresh stamp by every
    #: other write to the person's mirror (sync, webhooks, resync, the admin). A login whose
    #: session has the same digest skips the mirror's comparison and its memberships read
    #: (:mod:`django_authrocket.mirror.login`).
    login_digest = models.CharField(
        _("login digest"), max_length=64, blank=True, default="", editable=False
    )

    class Meta:
        verbose_name = _("AuthRocket user")
        verbose_name_plural = _("AuthRocket users")
        ordering = ("email", "authrocket_id")

    def __str__(self) -> str:
        return f"{self.name or self.email or self.username or self.authrocket_id}"


class AuthRocketOrg(models.Model):
    """An AuthRocket org (an account, team or tenant)."""

    authrocket_id = models.CharField(_("AuthRocket id"), max_length=64, unique=True)
    realm_id = models.CharField(_("realm id"), max_length=64, blank=True, db_index=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=MirrorState.choices, default=MirrorState.ACTIVE
    )
    reference = models.CharField(_("reference"), max_length=255, blank=True)
    custom = models.JSONField(_("custom attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at AuthRocket"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("AuthRocket org")
        verbose_name_plural = _("AuthRocket orgs")
        ordering = ("name", "authrocket_id")

    def __str__(self) -> str:
        return self.name or self.authrocket_id


class AuthRocketMembership(models.Model):
    """A user's membership of an org and the permissions it grants (``ar:admin``...)."""

    authrocket_id = models.CharField(
        _("AuthRocket id"), max_length=64, unique=True, null=True, blank=True
    )
    user = models.ForeignKey(
        AuthRocketUser, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    org = models.ForeignKey(
        AuthRocketOrg, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("org")
    )
    permissions = models.JSONField(_("permissions"), default=list, blank=True)
    selected = models.BooleanField(_("selected"), default=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("AuthRocket membership")
        verbose_name_plural = _("AuthRocket memberships")
        constraints = [
            models.UniqueConstraint(
                fields=("user", "org"), name="authrocket_one_membership_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.org}"

    def has_perm(self, permission: str) -> bool:
        """Whether this membership grants ``permission`` (AuthRocket wildcard rules)."""
        granted: list[Any] = self.permissions if isinstance(self.permissions, list) else []
        return any(isinstance(g, str) and permission_matches(g, permission) for g in granted)


class AuthRocketLogin(models.Model):
    """One login through AuthRocket: which AuthRocket session, which Django session, and the
    identity (user, orgs, permissions) that ``request.authrocket`` is rebuilt from.

    Written at login, its identity replaced when an api-mode recheck brings changed data,
    deleted at logout. The Django session itself keeps only the row's ``ref``, a version of the
    identity and the expiry, so the session a
    busy site decodes on every request stays as small as Django's own; ``end_sessions_for()``
    follows ``session_key`` to end the Django sessions of an AuthRocket session that ended
    elsewhere. ``session_key`` is empty with signed-cookie sessions (nothing to end there).
    """

    authrocket_session_id = models.CharField(
        _("AuthRocket session id"), max_length=128, db_index=True
    )
    session_key = models.CharField(
        _("Django session key"), max_length=64, unique=True, null=True, blank=True
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="authrocket_logins",
        verbose_name=_("local user"),
    )
    created_at = models.DateTimeField(_("logged in at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, db_index=True)
    ref = models.CharField(
        _("identity reference"),
        max_length=64,
        unique=True,
        help_text=_(
            "A random name the Django session points here with, fixed for the life of the login."
        ),
    )
    source = models.CharField(
        _("identity source"),
        max_length=8,
        default="token",
        help_text=_('"token" (login token claims) or "api1"/"api2" (a Get Session answer).'),
    )
    data = models.JSONField(_("identity"), default=dict, blank=True)

    class Meta:
        verbose_name = _("AuthRocket login")
        verbose_name_plural = _("AuthRocket logins")

    def __str__(self) -> str:
        # Masked: a session id is a credential (see redaction.py), and this is what the admin
        # shows of the row (the objects a user's deletion takes along).
        key = (self.session_key or "")[:8]
        return f"{shown_session(self.authrocket_session_id)} -> {key}…"


class SyncResource(models.TextChoices):
    USERS = "users", _("users")
    ORGS = "orgs", _("orgs")
    MEMBERSHIPS = "memberships", _("memberships")


class AuthRocketSyncCheckpoint(models.Model):
    """How far ``authrocket_sync`` got through one listing: a rerun resumes after ``last_id``.

    Written in the same transaction as each page, so it always names the last page that was
    committed. A completed listing clears ``last_id`` and sets ``completed_at``.
    """

    resource = models.CharField(
        _("resource"), max_length=16, choices=SyncResource.choices, unique=True
    )
    last_id = models.CharField(_("last id synced"), max_length=64, blank=True)
    #: Whether this run stamps ``synced_at`` on every user it sees (``--deactivate-missing``).
    marks_seen = models.BooleanField(_("marks seen users"), default=False)
    pages = models.PositiveIntegerField(_("pages committed"), default=0)
    started_at = models.DateTimeField(_("started at"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("AuthRocket sync checkpoint")
        verbose_name_plural = _("AuthRocket sync checkpoints")

    def __str__(self) -> str:
        return f"{self.resource} after {self.last_id or '(start)'}"

    @property
    def in_progress(self) -> bool:
        """A listing was started and not completed: the next run resumes it."""
        return self.completed_at is None and bool(self.last_id)


class AuthRocketWebhookEvent(models.Model):
    """A webhook event that was processed, so a redelivery (AuthRocket retries) does nothing."""

    event_id = models.CharField(_("event id"), max_length=64, unique=True)
    event_type = models.CharField(_("event type"), max_length=64)
    event_at = models.DateTimeField(_("event at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("AuthRocket webhook event")
        verbose_name_plural = _("AuthRocket webhook events")
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.event_id} ({self.event_type})"
