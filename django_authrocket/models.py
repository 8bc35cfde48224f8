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
    """Which Django session an AuthRocket session logged in: the map single sign-out needs.

    Written at login, deleted at logout; ``end_sessions_for()`` follows it to end the Django
    sessions of an AuthRocket session that ended elsewhere.
    """

    authrocket_session_id = models.CharField(
        _("AuthRocket session id"), max_length=128, db_index=True
    )
    session_key = models.CharField(_("Django session key"), max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="authrocket_logins",
        verbose_name=_("local user"),
    )
    created_at = models.DateTimeField(_("logged in at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("AuthRocket login")
        verbose_name_plural = _("AuthRocket logins")

    def __str__(self) -> str:
        return f"{self.authrocket_session_id} -> {self.session_key[:8]}…"
