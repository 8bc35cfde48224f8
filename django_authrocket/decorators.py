"""View decorators that check the person's AuthRocket membership: permissions and orgs.

::

    from django_authrocket.decorators import org_required, permission_required

    @permission_required("billing:read")
    def invoices(request): ...

    @org_required
    async def dashboard(request): ...

    @method_decorator(permission_required("ar:admin"), name="dispatch")
    class TeamSettings(View): ...

Someone not logged in through AuthRocket is sent to ``LOGIN_URL`` with ``?next=``, exactly as
Django's ``login_required`` does. Someone logged in who fails the check gets a 403
(:class:`~django.core.exceptions.PermissionDenied`), or the same login redirect with
``raise_exception=False`` (to log in with another account or switch org).

Both decorators wrap sync and async views alike. On a class-based view with async handlers,
decorate the handler (``name="get"``) rather than the sync ``dispatch``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast, overload
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import resolve_url

from . import access
from .identity import AuthRocketSession
from .logins import current_session

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])
_SessionTest = Callable[[AuthRocketSession], bool]


def permission_required(
    *permissions: str,
    org_id: str | None = None,
    login_url: str | None = None,
    raise_exception: bool = True,
) -> Callable[[ViewFunc], ViewFunc]:
    """Let the view run only when the membership grants every one of ``permissions``.

    The membership checked is the selected one, or the person's membership of ``org_id`` when
    given: the token answers for the org it selected, the mirror for the others
    (:mod:`django_authrocket.access`). AuthRocket's wildcards apply: a granted ``billing:*``
    covers ``billing:read``, a granted ``*`` covers everything.
    """
    if not permissions or not all(isinstance(p, str) for p in permissions):
        raise TypeError(
            "permission_required() takes one or more permission strings, "
            "e.g. @permission_required('ar:admin')"
        )

    def grants_all(session: AuthRocketSession) -> bool:
        membership = access.membership(session, org_id)
        return membership is not None and all(membership.has_perm(p) for p in permissions)

    return _session_passes_test(grants_all, login_url=login_url, raise_exception=raise_exception)


@overload
def org_required(org_id: ViewFunc, /) -> ViewFunc: ...


@overload
def org_required(
    org_id: str | None = None, *, login_url: str | None = None, raise_exception: bool = True
) -> Callable[[ViewFunc], ViewFunc]: ...


def org_required(
    org_id: str | ViewFunc | None = None,
    *,
    login_url: str | None = None,
    raise_exception: bool = True,
) -> ViewFunc | Callable[[ViewFunc], ViewFunc]:
    """Let the view run only for a member of an org: the selected one, or ``org_id`` (the
    token answers for the org it selected, the mirror for the others:
    :mod:`django_authrocket.access`).

    Usable bare (``@org_required``) or called (``@org_required("org_...")``).
    """
    if callable(org_id):  # used bare: @org_required
        return org_required()(org_id)

    def is_member(session: AuthRocketSession) -> bool:
        return access.is_member(session, org_id)

    return _session_passes_test(is_member, login_url=login_url, raise_exception=raise_exception)


def _session_passes_test(
    test: _SessionTest, *, login_url: str | None, raise_exception: bool
) -> Callable[[ViewFunc], ViewFunc]:
    """The decorator behind both: ``test`` the AuthRocket session before the view runs."""

    def refusal(request: HttpRequest) -> HttpResponseBase | None:
        """None to let the view run; a login redirect; or PermissionDenied raised."""
        session = current_session(request)
        user = getattr(request, "user", None)
        if session is None or user is None or not user.is_authenticated:
            return _redirect_to_login(request, login_url)
        if test(session):
            return None
        if raise_exception:
            raise PermissionDenied
        return _redirect_to_login(request, login_url)

    def decorator(view: ViewFunc) -> ViewFunc:
        if iscoroutinefunction(view):

            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                # The session and user may need the database: not from the event loop.
                response = await sync_to_async(refusal)(request)
                if response is not None:
                    return response
                return await view(request, *args, **kwargs)

            wrapper: Callable[..., Any] = async_wrapper
        else:

            def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                response = refusal(request)
                if response is not None:
                    return response
                return view(request, *args, **kwargs)

            wrapper = sync_wrapper

        # Read by Django's LoginRequiredMiddleware, as on login_required views.
        wrapper.login_url = login_url  # type: ignore[attr-defined]
        wrapper.redirect_field_name = REDIRECT_FIELD_NAME  # type: ignore[attr-defined]
        return cast(ViewFunc, wraps(view)(wrapper))

    return decorator


def _redirect_to_login(request: HttpRequest, login_url: str | None) -> HttpResponseBase:
    """Django's login redirect: ``next`` is the path when the login page is on this site."""
    resolved_login_url = resolve_url(login_url or settings.LOGIN_URL)
    path = request.build_absolute_uri()
    login_scheme, login_netloc = urlsplit(resolved_login_url)[:2]
    current_scheme, current_netloc = urlsplit(path)[:2]
    if (not login_scheme or login_scheme == current_scheme) and (
        not login_netloc or login_netloc == current_netloc
    ):
        path = request.get_full_path()
    return redirect_to_login(path, resolved_login_url, REDIRECT_FIELD_NAME)
