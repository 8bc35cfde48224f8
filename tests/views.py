"""Small views the tests log in to."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_authrocket.state import recall


@login_required
def private(request: HttpRequest) -> HttpResponse:
    session = recall(request)
    return JsonResponse(
        {
            "username": request.user.get_username(),
            "authrocket_session": session.id if session else None,
            "org": session.selected_org.id if session and session.selected_org else None,
        }
    )


def public(request: HttpRequest) -> HttpResponse:
    return HttpResponse("public")
