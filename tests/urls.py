from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_authrocket.urls")),
    path("private/", views.private, name="private"),
    path("public/", views.public, name="public"),
]
