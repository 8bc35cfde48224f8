"""The test URLs with the package's views under language prefixes (``i18n_patterns``): a site
whose login view is ``/en/login/`` in English and ``/fr/login/`` in French.

Use with ``@pytest.mark.urls("tests.i18n_urls")`` and ``LocaleMiddleware``.
"""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path

from tests import views

urlpatterns = [
    path("private/", views.private, name="private"),
    *i18n_patterns(path("", include("django_authrocket.urls"))),
]
