"""The example site's pages: a public home page and a dashboard for logged-in people."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_authrocket import state


def home(request: HttpRequest) -> HttpResponse:
    """What this is, and the way in: log in or sign up through LoginRocket."""
    return render(request, "demo_site/home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Who you are at AuthRocket: user, session, selected org and its permissions."""
    # The AuthRocket session remembered at login; None for a password login (say, the admin).
    session = state.recall(request)
    selected = session.selected_membership if session else None
    others = [m for m in session.memberships if m is not selected] if session else []
    return render(
        request,
        "demo_site/dashboard.html",
        {"session": session, "membership": selected, "other_memberships": others},
    )
