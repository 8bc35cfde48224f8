"""URLs of the example site."""

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("admin-area/", views.admin_area, name="admin_area"),  # needs ar:admin
    path("api/me/", views.api_me, name="api_me"),  # JSON; Authorization: Bearer <token>
    path("admin/", admin.site.urls),
    # login/ (LoginRocket comes back here with ?token=), logout/, signup/, profile/, accounts/
    path("", include("django_authrocket.urls")),
]
