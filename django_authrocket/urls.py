"""URLs: ``path("", include("django_authrocket.urls"))`` and ``LOGIN_URL = "authrocket:login"``."""

from __future__ import annotations

from django.urls import path

from . import views, webhooks

app_name = "authrocket"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<str:org_id>/", views.accounts, name="accounts_org"),
    path("webhook/<str:secret>/", webhooks.webhook, name="webhook"),
]
