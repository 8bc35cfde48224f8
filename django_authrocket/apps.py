"""Django app configuration for django-authrocket."""

from __future__ import annotations

from django.apps import AppConfig


class AuthRocketConfig(AppConfig):
    name = "django_authrocket"
    verbose_name = "AuthRocket"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.test.signals import setting_changed

        # Importing registers the system checks (django.core.checks.register decorators).
        from . import checks  # noqa: F401

        # override_settings and the pytest settings fixture must not see stale key stores or
        # clients built for the previous configuration.
        setting_changed.connect(_forget_on_authrocket_change, dispatch_uid="authrocket-settings")

        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from . import admin_site, staff_group
        from .backends import record_login_time
        from .signout import unlink

        # First, while the login's row is still there: an admin logout also ends LoginRocket's.
        user_logged_out.connect(admin_site.note_logout, dispatch_uid="authrocket-admin-logout")
        user_logged_out.connect(unlink, dispatch_uid="authrocket-unlink")
        user_logged_in.connect(record_login_time, dispatch_uid="authrocket-login-time")
        admin_site.install()  # "Log in with AuthRocket" on the admin's login page

        from django.db.models.signals import post_migrate, pre_delete

        from .mirror.lock_order import hold_before_delete
        from .models import AuthRocketUser

        pre_delete.connect(
            hold_before_delete, sender=AuthRocketUser, dispatch_uid="authrocket-hold-person"
        )

        post_migrate.connect(
            staff_group.after_migrate, sender=self, dispatch_uid="authrocket-staff"
        )

        import logging

        from .redaction import FILTERED_LOGGERS, redact_tokens

        # urllib3 logs each request URL at DEBUG (a Get Session by token has the token in it);
        # runserver logs "GET /login/?token=..." as LoginRocket sends people back. The filter sits
        # on the loggers, not on handlers, so a site's own LOGGING keeps it.
        for name in FILTERED_LOGGERS:
            logging.getLogger(name).addFilter(redact_tokens)  # added once: same object


def _forget_on_authrocket_change(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("AUTHROCKET_") or setting == "CACHES":
        from .client import AuthRocketClient
        from .keys import forget_stores

        forget_stores()
        AuthRocketClient.forget_shared()
