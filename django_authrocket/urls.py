"""URLs: ``path("", include("django_authrocket.urls"))`` and ``LOGIN_URL = "authrocket:login"``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from django.views.generic import TemplateView

from . import form_account_views as accounts
from . import form_views as forms
from . import views, webhooks
from .identity import ID_PATTERN

app_name = "authrocket"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    # Where a refused login lands: a clean URL, the token gone from the address bar.
    path("login/failed/", views.login_failed_page, name="login_failed"),
    # A login this browser did not start here is confirmed by the person (a POST with CSRF).
    path("login/confirm/", views.LoginConfirmView.as_view(), name="login_confirm"),
    path("logout/", views.logout, name="logout"),
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("accounts/", views.accounts, name="accounts"),
    # An org id only (AuthRocket's ids: letters, digits, "_" and "-"): it goes into
    # LoginRocket's path, where "?" or "#" would add or cut query parameters.
    re_path(rf"^accounts/(?P<org_id>{ID_PATTERN})/$", views.accounts, name="accounts_org"),
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
    # The in-site forms (docs/login-forms.md): each answers 404 unless AUTHROCKET_LOGIN_FORMS.
    path("form/login/", forms.LoginFormView.as_view(), name="form_login"),
    path("form/login/verify/", forms.VerifyFormView.as_view(), name="form_verify"),
    path("form/login/check-email/", forms.CheckEmailView.as_view(), name="form_check_email"),
    path("form/signup/", accounts.SignupFormView.as_view(), name="form_signup"),
    path(
        "form/password/forgot/",
        accounts.ForgotPasswordFormView.as_view(),
        name="form_forgot_password",
    ),
    path(
        "form/password/reset/",
        accounts.ResetPasswordFormView.as_view(),
        name="form_reset_password",
    ),
    path(
        "form/password/reset/<str:token>/",
        accounts.ResetPasswordFormView.as_view(),
        name="form_reset_password_link",
    ),
    path("form/email/verify/", accounts.VerifyEmailFormView.as_view(), name="form_verify_email"),
    path(
        "form/email/verify/<str:token>/",
        accounts.VerifyEmailFormView.as_view(),
        name="form_verify_email_link",
    ),
    path("form/password/", accounts.ChangePasswordFormView.as_view(), name="form_password"),
    path("form/profile/", accounts.ProfileFormView.as_view(), name="form_profile"),
    path("form/orgs/", accounts.OrgsFormView.as_view(), name="form_orgs"),
]
