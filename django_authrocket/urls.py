"""URLs: ``path("", include("django_authrocket.urls"))`` and ``LOGIN_URL = "authrocket:login"``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.generic import TemplateView

from . import views, webhooks

app_name = "authrocket"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    # Where a refused login lands: a clean URL, the token gone from the address bar.
    path("login/failed/", views.login_failed_page, name="login_failed"),
    path("logout/", views.logout, name="logout"),
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<str:org_id>/", views.accounts, name="accounts_org"),
    # Where a logout lands when LOGOUT_REDIRECT_URL is not set (a new project has no "/").
    path(
        "logged-out/",
        login_not_required(TemplateView.as_view(template_name="authrocket/logged_out.html")),
        name="logged_out",
    ),
    # Where a login lands when LOGIN_REDIRECT_URL is Django's default and the site has no "/".
    path(
        "logged-in/",
        login_not_required(TemplateView.as_view(template_name="authrocket/logged_in.html")),
        name="logged_in",
    ),
    path("webhook/<str:secret>/", webhooks.webhook, name="webhook"),
]
