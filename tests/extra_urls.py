"""The test URLs plus views guarded by the decorators, a page using the template tags and a
LoginView subclass that overrides its hooks.

Use with ``@pytest.mark.urls("tests.extra_urls")``.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View

from django_authrocket import access
from django_authrocket.context_processors import current_session
from django_authrocket.decorators import org_required, permission_required
from django_authrocket.exceptions import AuthRocketError
from django_authrocket.identity import AuthRocketSession
from django_authrocket.views import LoginView
from tests.urls import urlpatterns as base_urlpatterns


def _who(request: HttpRequest) -> JsonResponse:
    session = current_session(request)
    membership = access.membership(session) if session else None  # the mirror's, without org data
    org = membership.org if membership else None
    return JsonResponse({"user": request.user.get_username(), "org": org.name if org else None})


@permission_required("billing:read")
def invoices(request: HttpRequest) -> HttpResponse:
    """Needs billing:read (the test user holds billing:*)."""
    return _who(request)


@permission_required("ar:admin", "ar:owner")
def ownership(request: HttpRequest) -> HttpResponse:
    """Needs both ar:admin and ar:owner."""
    return _who(request)


@permission_required("ar:owner", raise_exception=False)
def owners_or_login(request: HttpRequest) -> HttpResponse:
    return _who(request)


@permission_required("ar:admin", login_url="/elsewhere/")
def admin_elsewhere(request: HttpRequest) -> HttpResponse:
    return _who(request)


def org_report(request: HttpRequest, org_id: str) -> HttpResponse:
    """Applies the decorator per request: the org is only known from the URL."""

    @permission_required("reports:read", org_id=org_id)
    def report(request: HttpRequest) -> HttpResponse:
        return _who(request)

    return report(request)


@org_required
def in_an_org(request: HttpRequest) -> HttpResponse:
    return _who(request)


def member_of(request: HttpRequest, org_id: str) -> HttpResponse:
    return org_required(org_id)(_who)(request)


@permission_required("billing:read")
async def async_invoices(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async invoices")


@org_required
async def async_in_an_org(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async org page")


@method_decorator(permission_required("ar:admin"), name="dispatch")
class TeamSettings(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("team settings")


class AsyncTeamSettings(View):
    @method_decorator(permission_required("ar:admin"))
    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("async team settings")


PAGE = """{% load authrocket %}
login={% authrocket_login_url %}
signup={% authrocket_signup_url %}
profile={% authrocket_profile_url %}
accounts={% authrocket_accounts_url %}
org_accounts={% authrocket_accounts_url "org_42" %}
login_elsewhere={% authrocket_login_url next="/welcome/?a=1&b=2" %}
{% authrocket_login_url as stored_login_url %}stored={{ stored_login_url }}
person={% if authrocket %}{{ authrocket.user.email }}{% else %}nobody{% endif %}
org={{ authrocket.selected_org.name }}
orgs={% for membership in authrocket|authrocket_memberships %}{{ membership.org.name }};{% endfor %}
admin={{ authrocket|has_authrocket_perm:"ar:admin" }}
billing={{ authrocket|has_authrocket_perm:"billing:refunds" }}
owner={{ authrocket|has_authrocket_perm:"ar:owner" }}
{% for membership in authrocket|authrocket_memberships %}looms_in_{{ membership.org.name|slugify }}={{ membership|has_authrocket_perm:"looms:read" }}
{% endfor %}{% authrocket_logout_form %}
"""


def tags_page(request: HttpRequest) -> HttpResponse:
    """The template tags and the ``authrocket`` context variable, rendered with a request."""
    return HttpResponse(engines["django"].from_string(PAGE).render({}, request))


class ShopLoginView(LoginView):
    """A site's login view: its own landing page, a header on success, JSON on refusal."""

    def get_success_url(self) -> str:
        return "/shop/welcome/"

    def login_succeeded(self, user: AbstractBaseUser, session: AuthRocketSession) -> HttpResponse:
        response = super().login_succeeded(user, session)
        response["X-Shop-Customer"] = user.get_username()
        return response

    def login_failed(self, error: AuthRocketError) -> HttpResponse:
        return JsonResponse({"refused": getattr(error, "reason", "unknown")}, status=403)


urlpatterns = [
    *base_urlpatterns,
    path("invoices/", invoices),
    path("ownership/", ownership),
    path("owners-or-login/", owners_or_login),
    path("admin-elsewhere/", admin_elsewhere),
    path("orgs/<str:org_id>/report/", org_report),
    path("in-an-org/", in_an_org),
    path("orgs/<str:org_id>/members/", member_of),
    path("async/invoices/", async_invoices),
    path("async/in-an-org/", async_in_an_org),
    path("team/", TeamSettings.as_view()),
    path("async/team/", AsyncTeamSettings.as_view()),
    path("tags/", tags_page),
    path("shop/login/", ShopLoginView.as_view()),
]
