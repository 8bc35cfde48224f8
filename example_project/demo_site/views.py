"""The example site's pages: a public home page, a dashboard, an admin-only page and a JSON API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from django_authrocket import access
from django_authrocket.decorators import permission_required
from django_authrocket.identity import AuthRocketSession
from django_authrocket.logins import current_session


def home(request: HttpRequest) -> HttpResponse:
    """What this is, and the way in: log in or sign up through LoginRocket."""
    return render(request, "demo_site/home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Who you are at AuthRocket: user, session, selected org and its permissions."""
    # The AuthRocket session remembered at login; None for a password login (say, the admin).
    session = current_session(request)
    # The selected org from the token, the others from the mirror (the token names one org).
    memberships = access.memberships(session) if session else []
    selected = access.membership(session) if session else None
    others = [m for m in memberships if selected is None or m.org.id != selected.org.id]
    return render(
        request,
        "demo_site/dashboard.html",
        {"session": session, "membership": selected, "other_memberships": others},
    )


@permission_required("ar:admin")
def admin_area(request: HttpRequest) -> HttpResponse:
    """Only for admins of the selected org; others get templates/403.html (a 403)."""
    session = current_session(request)
    return render(
        request,
        "demo_site/admin_area.html",
        {"session": session, "membership": access.membership(session) if session else None},
    )


def describe(user: Any, session: AuthRocketSession | None, via: str) -> dict[str, Any]:
    """The JSON answer of /api/me/: the local user and their AuthRocket session, if any."""
    membership = access.membership(session) if session else None
    org = membership.org if membership else None
    return {
        "username": user.get_username(),
        "authenticated_by": via,
        "authrocket": None
        if session is None
        else {
            "user_id": session.user.id,
            "name": session.user.name,
            "email": session.user.email,
            "session_id": session.id,
            "org": {"id": org.id, "name": org.name} if org else None,
            "permissions": list(membership.permissions) if membership else [],
        },
    }


try:
    from rest_framework.authentication import SessionAuthentication
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.renderers import JSONRenderer
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from django_authrocket.contrib.drf import AuthRocketAuthentication
except ImportError:  # no DRF (the `drf` extra): the same answer from a plain Django view
    from django.views.decorators.http import require_GET

    @require_GET
    def api_me(request: HttpRequest) -> HttpResponse:
        """``Authorization: Bearer <LoginRocket token>`` (or the browser's session) -> JSON."""
        # The middleware verified a Bearer token (a bad one is already a 401) or the session.
        session = current_session(request)
        if not request.user.is_authenticated:
            return JsonResponse(
                {"detail": "Authentication credentials were not provided."},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="authrocket"'},
            )
        via = "bearer" if request.headers.get("Authorization") else "session"
        return JsonResponse(describe(request.user, session, via))

else:

    class Me(APIView):
        """``Authorization: Bearer <LoginRocket token>`` (or the browser's session) -> JSON."""

        # Bearer first: request.auth is then the AuthRocketSession the token describes.
        authentication_classes = [AuthRocketAuthentication, SessionAuthentication]
        permission_classes = [IsAuthenticated]
        renderer_classes = [JSONRenderer]

        def get(self, request: Request) -> Response:
            if isinstance(request.auth, AuthRocketSession):
                return Response(describe(request.user, request.auth, "bearer"))
            return Response(describe(request.user, current_session(request._request), "session"))

    api_me = Me.as_view()
