"""The admin for the local mirror of AuthRocket users, orgs and memberships.

AuthRocket is the source of truth, so these pages are for looking, not editing: every field is
read-only, nothing can be added here (people sign up and orgs are created at AuthRocket), and
only superusers may delete a mirror row (the next login or sync writes it back if it still
exists at AuthRocket).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

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
class AuthRocketUserAdmin(MirrorAdmin):
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
        (None, {"fields": ("authrocket_id", "user", "state", "realm_id")}),
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


@admin.register(AuthRocketOrg)
class AuthRocketOrgAdmin(MirrorAdmin):
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
