"""The example site's app: its templates, static files, and one opt-in demo policy."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings


class DemoSiteConfig(AppConfig):
    name = "demo_site"
    verbose_name = "django-authrocket example site"

    def ready(self) -> None:
        from django_authrocket.signals import authrocket_login

        authrocket_login.connect(staff_org_owners_are_superusers, dispatch_uid="demo_site.owners")


def staff_org_owners_are_superusers(sender: Any, user: Any, session: Any, **kwargs: Any) -> None:
    """Opt-in policy: owners (``ar:owner``) of the site's staff org get every right in the admin.

    Tied to AUTHROCKET_STAFF_ORG like is_staff: being owner of one's own org (anyone who can
    create an org is) never counts. The flag follows the permission both ways, at each login.
    Off unless STAFF_ORG_OWNERS_ARE_SUPERUSERS is set in the environment.
    """
    if not getattr(settings, "STAFF_ORG_OWNERS_ARE_SUPERUSERS", False):
        return
    from django_authrocket.backends import get_backend

    is_owner = get_backend().staff_org_grants(session, "ar:owner")
    if user.is_superuser != is_owner:
        user.is_superuser = is_owner
        user.save(update_fields=["is_superuser"])
