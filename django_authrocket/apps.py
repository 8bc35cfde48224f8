"""Django app configuration for django-authrocket."""

from __future__ import annotations

from django.apps import AppConfig


class AuthRocketConfig(AppConfig):
    name = "django_authrocket"
    verbose_name = "AuthRocket"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing registers the system checks (django.core.checks.register decorators).
        from . import checks  # noqa: F401
