"""The admin for the local mirror of AuthRocket users, orgs and memberships.

AuthRocket is the source of truth, so these pages are for looking, not editing: every field is
read-only, nothing can be added here (people sign up and orgs are created at AuthRocket), only
superusers may delete an org or membership row (the next login or sync writes it back if it
still exists at AuthRocket), and a person's row goes only with its local user.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import transaction
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import resync, signout
from .client import AuthRocketClient
from .conf import app_settings
from .exceptions import APIError
from .mirror import login as mirror_login
from .models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser


def _model_field_names(model: type[Model]) -> tuple[str, ...]:
    """The names of all fields of ``model`` but its primary key: what the mirror holds."""
    return tuple(f.name for f in model._meta.concrete_fields if not f.primary_key)


def _with_model_fields(declared: Any, model: type[Model]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*declared, *_model_field_names(model))))


class MirrorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: viewable by staff with the view permission, deletable by superusers only."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return _with_model_fields(super().get_readonly_fields(request, obj), self.model)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, self.model._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Delete the rows, and empty their people's login digests: the next login of each
        compares the mirror with its session again (and writes back what it still lists)."""
        with transaction.atomic():
            if self.model is AuthRocketOrg:
                people = AuthRocketUser.objects.filter(memberships__org__in=queryset.values("pk"))
            elif self.model is AuthRocketMembership:
                people = AuthRocketUser.objects.filter(pk__in=queryset.values("user_id"))
            else:
                people = queryset
            mirror_login.forget_digests(people)
            super().delete_queryset(request, queryset)


class ResyncAction:
    """The "Resync from AuthRocket" action: read the selected rows again through the Core API.

    It writes the rows (and the local users behind them), spends the site's Core API rate
    limit, and can deactivate users gone upstream: it takes the model's change permission, not
    only view, although the admin's pages themselves never edit (:class:`MirrorAdmin`).
    """

    def has_resync_permission(self, request: HttpRequest) -> bool:
        opts = self.opts  # type: ignore[attr-defined]
        codename = get_permission_codename("change", opts)
        return bool(request.user.has_perm(f"{opts.app_label}.{codename}"))

    def resync(self, request: HttpRequest, queryset: QuerySet[Any], kind: str) -> None:
        ids = list(queryset.values_list("authrocket_id", flat=True))
        run = resync.resync_users if kind == "users" else resync.resync_orgs
        try:
            result = run(ids)
        except (APIError, ImproperlyConfigured) as exc:
            self.message_user(  # type: ignore[attr-defined]
                request, _("Could not resync from AuthRocket: %s") % exc, messages.ERROR
            )
            return
        self.message_user(  # type: ignore[attr-defined]
            request,
            _("Resynced %(count)d %(kind)s from AuthRocket: %(result)s")
            % {"count": len(ids), "kind": kind, "result": resync.describe(result)},
            messages.SUCCESS,
        )


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    """Memberships shown on a user's or an org's page, read-only, linking to each one."""

    model = AuthRocketMembership
    extra = 0
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return _with_model_fields(super().get_readonly_fields(request, obj), self.model)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthRocketMembership]:
        return super().get_queryset(request).select_related("user", "org")


class UserMembershipInline(MembershipInline):
    fk_name = "user"
    fields = ("org", "permissions", "selected", "expires_at", "synced_at")


class OrgMembershipInline(MembershipInline):
    fk_name = "org"
    fields = ("user", "permissions", "selected", "expires_at", "synced_at")


@admin.register(AuthRocketUser)
class AuthRocketUserAdmin(ResyncAction, MirrorAdmin):
    """People. Not deletable here, not even by superusers: the row is the only link between the
    AuthRocket user and the local one, so without it the next login would create a second
    local user. Delete the local user instead (its row goes with it)."""

    list_display = ("__str__", "email", "authrocket_id", "user", "state", "last_login_at")
    list_filter = ("state", "realm_id", "email_verification")
    list_select_related = ("user",)
    search_fields = (
        "email",
        "name",
        "username",
        "=authrocket_id",
        "user__username",
        "memberships__org__name",
    )
    fieldsets = (
        (None, {"fields": ("authrocket_id", "portal_link", "user", "state", "realm_id")}),
        (
            _("Profile"),
            {
                "fields": (
                    "email",
                    "email_verification",
                    "username",
                    "name",
                    "first_name",
                    "last_name",
                    "reference",
                    "custom",
                )
            },
        ),
        (_("Dates"), {"fields": ("created_at", "last_login_at", "synced_at")}),
    )
    inlines = (UserMembershipInline,)
    actions = ("resync_from_authrocket", "end_authrocket_sessions")
    readonly_fields = ("portal_link",)

    # Not has_delete_permission(): Django asks it too when a superuser deletes the local user,
    # whose row must go along. Only the direct ways to delete a row are closed.
    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        raise PermissionDenied(_("Delete the local user instead; this row goes with it."))

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes where the actions show (change list or change form); 5.2 and 6.0
        # know no such parameter, so it is passed on only when given.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        actions.pop("delete_selected", None)
        return actions

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        extra = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.display(description=_("AuthRocket portal"))
    def portal_link(self, obj: AuthRocketUser) -> str:
        """A link to this person in the AuthRocket portal (``AUTHROCKET_PORTAL_USER_URL``)."""
        template = app_settings.PORTAL_USER_URL
        if not template or obj.pk is None:
            return "-"
        try:
            url = template.format(realm_id=obj.realm_id, authrocket_id=obj.authrocket_id)
        except (KeyError, IndexError, ValueError):
            return str(_("AUTHROCKET_PORTAL_USER_URL has unknown placeholders"))
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, _("Open")
        )

    @admin.action(description=_("Resync from AuthRocket"), permissions=["resync"])
    def resync_from_authrocket(
        self, request: HttpRequest, queryset: QuerySet[AuthRocketUser]
    ) -> None:
        self.resync(request, queryset, "users")

    @admin.action(description=_("End AuthRocket sessions"), permissions=["end_sessions"])
    def end_authrocket_sessions(
        self, request: HttpRequest, queryset: QuerySet[AuthRocketUser]
    ) -> None:
        """Revoke the selected people's sessions at AuthRocket, then end their Django ones."""
        try:
            client = AuthRocketClient.from_settings()
        except ImproperlyConfigured as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        revoked = ended = 0
        failed: list[str] = []
        for row in queryset.select_related("user"):
            try:
                revoked += signout.revoke_user_sessions(row.authrocket_id, client)
            except APIError as exc:
                failed.append(f"{row} ({exc})")
            # Local sessions end even when the revoke failed: this site, at least, is safe.
            ended += signout.end_sessions_for_user(row.user)
        self.message_user(
            request,
            _("Revoked %(revoked)d AuthRocket session(s) and ended %(ended)d Django session(s).")
            % {"revoked": revoked, "ended": ended},
            messages.SUCCESS if not failed else messages.WARNING,
        )
        if failed:
            self.message_user(
                request,
                _("Could not revoke at AuthRocket the sessions of: %s") % "; ".join(failed),
                messages.ERROR,
            )

    def has_end_sessions_permission(self, request: HttpRequest) -> bool:
        """Ending someone's sessions changes a local user: it takes that permission."""
        opts = get_user_model()._meta
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))


@admin.register(AuthRocketOrg)
class AuthRocketOrgAdmin(ResyncAction, MirrorAdmin):
    list_display = ("name", "authrocket_id", "state", "realm_id", "member_count", "synced_at")
    list_filter = ("state", "realm_id")
    search_fields = ("name", "=authrocket_id", "reference")
    fields = (
        "authrocket_id",
        "name",
        "state",
        "realm_id",
        "reference",
        "custom",
        "created_at",
        "synced_at",
    )
    inlines = (OrgMembershipInline,)
    actions = ("resync_from_authrocket",)

    @admin.action(description=_("Resync from AuthRocket"), permissions=["resync"])
    def resync_from_authrocket(
        self, request: HttpRequest, queryset: QuerySet[AuthRocketOrg]
    ) -> None:
        self.resync(request, queryset, "orgs")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthRocketOrg]:
        orgs: QuerySet[AuthRocketOrg] = super().get_queryset(request)
        return orgs.annotate(_member_count=Count("memberships"))

    @admin.display(description=_("members"), ordering="_member_count")
    def member_count(self, org: Any) -> int:
        return int(org._member_count)


@admin.register(AuthRocketMembership)
class AuthRocketMembershipAdmin(MirrorAdmin):
    list_display = ("user", "org", "permission_list", "selected", "expires_at", "synced_at")
    list_filter = ("selected",)
    list_select_related = ("user", "org")
    search_fields = (
        "user__email",
        "user__name",
        "=user__authrocket_id",
        "org__name",
        "=org__authrocket_id",
        "=authrocket_id",
    )
    fields = ("authrocket_id", "user", "org", "permissions", "selected", "expires_at", "synced_at")

    @admin.display(description=_("permissions"))
    def permission_list(self, membership: AuthRocketMembership) -> str:
        granted = membership.permissions if isinstance(membership.permissions, list) else []
        return ", ".join(str(p) for p in granted)
