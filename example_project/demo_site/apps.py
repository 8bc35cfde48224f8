"""The example site's app: its templates, static files, and one demo policy."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class DemoSiteConfig(AppConfig):
    name = "demo_site"
    verbose_name = "django-authrocket example site"

    def ready(self) -> None:
        from django_authrocket.signals import authrocket_login

        authrocket_login.connect(owners_are_superusers, dispatch_uid="demo_site.owners")


def owners_are_superusers(sender: Any, user: Any, session: Any, **kwargs: Any) -> None:
    """Demo policy: owners (``ar:owner``) of the selected org get every right in the admin.

    AUTHROCKET_STAFF_PERMISSION already lets admins (``ar:admin``) into /admin/; this shows
    how a site maps its own AuthRocket permissions at each login with the ``authrocket_login``
    signal. The flag follows the permission both ways.
    """
    is_owner = session.has_perm("ar:owner")
    if user.is_superuser != is_owner:
        user.is_superuser = is_owner
        user.save(update_fields=["is_superuser"])
