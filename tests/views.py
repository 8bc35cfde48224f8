"""Small views the tests log in to."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_authrocket import access
from django_authrocket.identity import AuthRocketSession
from django_authrocket.logins import recall


@login_required
def private(request: HttpRequest) -> HttpResponse:
    session = recall(request)
    return JsonResponse(
        {
            "username": request.user.get_username(),
            "authrocket_session": session.id if session else None,
            "org": _selected_org_id(session),
            "first_name": session.user.first_name if session else None,
        }
    )


def _selected_org_id(session: AuthRocketSession | None) -> str | None:
    """The selected org: the token's, or the mirror's when the token carries no org data."""
    membership = access.membership(session) if session is not None else None
    return membership.org.id if membership is not None else None


def public(request: HttpRequest) -> HttpResponse:
    return HttpResponse("public")


@login_required
async def async_private(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    session = request.authrocket  # type: ignore[attr-defined]
    return JsonResponse(
        {"username": user.get_username(), "authrocket_session": session.id if session else None}
    )


def api_me(request: HttpRequest) -> HttpResponse:
    """A plain Django JSON view for Bearer clients (no DRF)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "anonymous"}, status=401)
    session = request.authrocket  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "username": request.user.get_username(),
            "authrocket_user": session.user.id if session else None,
            "method": request.method,
        }
    )


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@login_required
def cycle_session(request: HttpRequest) -> HttpResponse:
    """A view that gives the session a new key, as a "confirm your password" step might."""
    request.session.cycle_key()
    return HttpResponse("cycled")


@login_required
async def async_cycle_session(request: HttpRequest) -> HttpResponse:
    await request.session.acycle_key()
    return HttpResponse("cycled")
