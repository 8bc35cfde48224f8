"""URLs of the example site."""

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    # Next: a page guarded by an AuthRocket permission and a JSON API view (Bearer tokens).
    path("admin/", admin.site.urls),
    # login/ (LoginRocket comes back here with ?token=), logout/, signup/, profile/, accounts/
    path("", include("django_authrocket.urls")),
]
