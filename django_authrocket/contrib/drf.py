"""Django REST framework support (``pip install django-authrocket[drf]``).

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "django_authrocket.contrib.drf.AuthRocketAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
    }

    class InvoiceList(APIView):
        permission_classes = [HasAuthRocketPermission("billing:read")]

``AuthRocketAuthentication`` reads ``Authorization: Bearer <LoginRocket token>`` and returns
``(user, AuthRocketSession)``, so ``request.auth`` is the session. A bad token is a 401 with a
``WWW-Authenticate: Bearer`` challenge. It works on the views that list it, whatever
``AUTHROCKET_BEARER_URLS`` says, and never on the Django admin. The header is read by
:func:`django_authrocket.bearer.token_from_header`, as the middleware reads it; when the
middleware already authenticated this very header value, its result is reused rather than
verified twice.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from django_authrocket import access, bearer
from django_authrocket.exceptions import APIError, InvalidToken, KeysUnavailable
from django_authrocket.identity import AuthRocketSession
from django_authrocket.logins import current_session


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = _("The login service could not be reached. Try again shortly.")
    default_code = "authrocket_unavailable"


class AuthRocketAuthentication(BaseAuthentication):
    """Bearer LoginRocket tokens for DRF views."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, AuthRocketSession] | None:
        try:
            # Reuses the middleware's result only if it came from this very header value.
            return bearer.authenticate(request._request)
        except KeysUnavailable:
            raise ServiceUnavailable from None
        except InvalidToken as exc:
            if exc.reason == "inactive_user":
                raise exceptions.AuthenticationFailed(_("User inactive or deleted.")) from None
            raise exceptions.AuthenticationFailed(str(exc), code=exc.reason) from None
        except APIError:
            raise ServiceUnavailable from None

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="authrocket"'


class HasAuthRocketPermission(BasePermission):
    """Grants access when the current AuthRocket membership has every given permission.

    Use an instance in ``permission_classes``: ``[HasAuthRocketPermission("billing:read")]``.
    Wildcards follow AuthRocket's rules (a granted ``billing:*`` covers ``billing:read``). The
    token answers for the org it selected, the mirror for the others
    (:mod:`django_authrocket.access`).
    """

    def __init__(self, *permissions: str, org_id: str | None = None) -> None:
        if not permissions:
            raise TypeError("HasAuthRocketPermission needs at least one permission")
        self.permissions = permissions
        self.org_id = org_id

    def __call__(self) -> HasAuthRocketPermission:
        # DRF instantiates each entry of permission_classes; an instance stands for itself.
        return self

    def has_permission(self, request: Request, view: Any) -> bool:
        session = _authenticated_session(request)
        if session is None:
            return False
        membership = access.membership(session, self.org_id)
        return membership is not None and all(membership.has_perm(p) for p in self.permissions)


def _authenticated_session(request: Request) -> AuthRocketSession | None:
    """The AuthRocket session DRF authenticated ``request`` with, or None.

    ``request.auth`` for a Bearer token. For a request authenticated by
    ``SessionAuthentication`` (or a subclass), which keeps its CSRF check, the session
    remembered at that Django session's login. A browser's AuthRocket login never answers for
    a request DRF left anonymous, or authenticated another way (another scheme, another user).
    """
    if isinstance(request.auth, AuthRocketSession):
        return request.auth
    if isinstance(request.successful_authenticator, SessionAuthentication):
        return current_session(request._request)
    return None
