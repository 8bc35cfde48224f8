"""Template variables every page of the example site uses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from django_authrocket.conf import app_settings


def demo(request: HttpRequest) -> dict[str, Any]:
    """Whether the site logs in through the local emulator, LoginRocket's address, and whether
    the in-site login forms are on."""
    return {
        "demo_uses_emulator": settings.DEMO_USES_EMULATOR,
        "loginrocket_url": app_settings.LOGINROCKET_URL,
        "login_forms": app_settings.LOGIN_FORMS,
    }
