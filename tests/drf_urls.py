"""DRF views for tests/test_drf.py."""

from __future__ import annotations

from django.urls import path
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from django_authrocket.contrib.drf import AuthRocketAuthentication, HasAuthRocketPermission
from tests.urls import urlpatterns as base_patterns


class Me(APIView):
    authentication_classes = [AuthRocketAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response(
            {
                "username": request.user.get_username(),
                "session": request.auth.id,
                "org": request.auth.selected_org.name if request.auth.selected_org else None,
            }
        )

    def post(self, request):
        return Response({"created": True}, status=201)


class Billing(APIView):
    authentication_classes = [AuthRocketAuthentication]
    permission_classes = [HasAuthRocketPermission("billing:read")]
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response({"invoices": []})


class Either(Me):
    """Bearer first, then the browser's session cookie (with DRF's CSRF check)."""

    authentication_classes = [AuthRocketAuthentication, SessionAuthentication]

    def post(self, request):
        bearer = isinstance(request.successful_authenticator, AuthRocketAuthentication)
        return Response({"via": "bearer" if bearer else "session"}, status=201)


class BillingOrSession(Billing):
    """The permission behind Bearer tokens and the browser's session (with DRF's CSRF check)."""

    authentication_classes = [AuthRocketAuthentication, SessionAuthentication]


class BillingOrBasic(Billing):
    """The permission behind HTTP Basic (another scheme, its own users) and Bearer tokens."""

    authentication_classes = [BasicAuthentication, AuthRocketAuthentication]


urlpatterns = [
    *base_patterns,
    path("drf/me/", Me.as_view()),
    path("drf/billing/", Billing.as_view()),
    path("drf/either/", Either.as_view()),
    path("drf/billing-or-session/", BillingOrSession.as_view()),
    path("drf/billing-or-basic/", BillingOrBasic.as_view()),
]
