from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_authrocket.urls")),
    path("private/", views.private, name="private"),
    path("public/", views.public, name="public"),
    path("async-private/", views.async_private, name="async_private"),
    path("api/me/", views.api_me, name="api_me"),
    path("health/", views.health, name="health"),
    path("status/live/", views.health, name="status_live"),
    path("cycle/", views.cycle_session, name="cycle_session"),
    path("async-cycle/", views.async_cycle_session, name="async_cycle_session"),
]
