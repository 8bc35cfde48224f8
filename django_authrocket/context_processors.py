"""The current AuthRocket session, for templates and for the views' decorators.

Add the context processor to ``TEMPLATES[...]["OPTIONS"]["context_processors"]``::

    "django_authrocket.context_processors.authrocket",

and templates get ``authrocket``: the :class:`~django_authrocket.identity.AuthRocketSession` of
the person (user info, memberships, selected org) or ``None``::

    {% if authrocket %}{{ authrocket.selected_org.name }}{% endif %}

It is lazy: a template that never mentions ``authrocket`` costs nothing. Test it with
``{% if authrocket %}`` rather than ``{% if authrocket is None %}`` (the lazy wrapper is never
``None`` itself).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .logins import current_session

__all__ = ["authrocket", "current_session"]


def authrocket(request: HttpRequest) -> dict[str, Any]:
    """Context processor: ``authrocket``, the current session or ``None``, computed on first use."""
    return {"authrocket": SimpleLazyObject(lambda: current_session(request))}
