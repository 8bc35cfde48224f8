"""The in-site account views: signup, forgot and reset password, change password, profile, orgs.

Built on :class:`~django_authrocket.form_views.FormStepView` (404 unless
``AUTHROCKET_LOGIN_FORMS``, CSRF, never cached, passwords hidden from error reports). Change
password, profile and the org switch act on the logged-in person's LoginRocket session, which
the server knows (the login record) and the browser never sees; profile and the org picker
also serve a pending login's ``must_complete_profile`` and ``no_account_selected``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from . import access, form_flow, login_forms
from .client import AuthRocketClient
from .conf import app_settings
from .exceptions import APIError
from .form_views import FormStepView
from .identity import AuthRocketSession
from .loginrocket_api import Answer, LoginRocketAPI, Okay

logger = logging.getLogger("django_authrocket.login")

#: The Django session's name for a password reset token taken from the emailed link.
RESET_TOKEN_KEY = "_authrocket_reset_token"


class SignupFormView(FormStepView):
    """``POST signup`` (AUTHROCKET_FORMS_SIGNUP ``'open'``) or ``POST signup/request``
    (``'invitation'``)."""

    step = "signup"

    def enabled(self) -> bool:
        return app_settings.FORMS_SIGNUP in ("open", "invitation")

    @property
    def by_invitation(self) -> bool:
        return bool(app_settings.FORMS_SIGNUP == "invitation")

    def get_form_class(self) -> Any:
        if self.by_invitation:
            return login_forms.InvitationRequestForm
        return login_forms.SignupForm

    def get_template_names(self) -> list[str]:
        if self.by_invitation:
            return ["authrocket/forms/signup_request.html"]
        return ["authrocket/forms/signup.html"]

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        fields = {k: v for k, v in form.cleaned_data.items() if v}
        if self.by_invitation:
            return api.request_invitation(fields)
        return api.signup(fields)

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        if self.by_invitation:
            return self.message_page(
                _("Thank you"), _("We will email you when your invitation is ready.")
            )
        return self.message_page(
            _("Check your email"), _("Open the link in the email we sent you, then log in.")
        )


class ForgotPasswordFormView(FormStepView):
    """``POST password/forgot``: LoginRocket emails a link to reset the password."""

    form_class = login_forms.ForgotPasswordForm
    template_name = "authrocket/forms/forgot_password.html"
    step = "forgot_password"

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        return api.forgot_password(form.cleaned_data["email"])

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        return self.message_page(
            _("Check your email"),
            _("If an account uses this address, we have emailed it a link to reset the password."),
        )


class EmailedLinkView(FormStepView):
    """A step reached from an emailed link ``.../<token>/``: the token is put in the Django
    session and the browser sent on to the same URL without it, so it leaves the address bar
    and the history. The form then posts it to LoginRocket once."""

    token_key = ""
    clean_url_name = ""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = kwargs.get("token")
        if token:
            request.session[self.token_key] = str(token)[:512]
            return form_flow.redirect(form_flow.url_with_next(self.clean_url_name, None))
        if not request.session.get(self.token_key):
            return self.missing_token()
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if kwargs.get("token") or not request.session.get(self.token_key):
            return self.missing_token()
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def emailed_token(self) -> str:
        return str(self.request.session.get(self.token_key, ""))

    def missing_token(self) -> HttpResponse:
        return self.message_page(
            _("This link is not valid"), _("Ask for a new link and open it again."), status=404
        )

    def on_answer(self, form: Any, answer: Answer) -> HttpResponse:
        self.request.session.pop(self.token_key, None)  # used: one way or the other
        return super().on_answer(form, answer)


class ResetPasswordFormView(EmailedLinkView):
    """``POST password/reset`` with the token of the emailed link ``password/reset/<token>/``."""

    form_class = login_forms.ResetPasswordForm
    template_name = "authrocket/forms/reset_password.html"
    step = "reset_password"
    token_key = RESET_TOKEN_KEY
    clean_url_name = "authrocket:form_reset_password"

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        data = form.cleaned_data
        return api.reset_password(
            self.emailed_token(), data["password"], data["password_confirmation"]
        )

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        return self.message_page(_("Your password has been changed"), _("You can log in now."))


class VerifyEmailFormView(EmailedLinkView):
    """``POST email/verify`` with the token of the emailed link ``email/verify/<token>/``
    (one button: a GET never changes anything)."""

    form_class = login_forms.LoginRocketForm
    template_name = "authrocket/forms/verify_email.html"
    step = "verify_email"
    token_key = "_authrocket_email_token"
    clean_url_name = "authrocket:form_verify_email"

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        return api.verify_email(self.emailed_token())

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        return self.message_page(_("Your email address is verified"), _("You can log in now."))


class ChangePasswordFormView(FormStepView):
    """``POST profile/password`` for the logged-in person."""

    form_class = login_forms.ChangePasswordForm
    template_name = "authrocket/forms/password.html"
    step = "password"
    needs_login = True

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        data = form.cleaned_data
        session = form_flow.current_session(self.request) or ""
        return api.change_password(
            session, data["current_password"], data["password"], data["password_confirmation"]
        )

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        return self.message_page(_("Your password has been changed"), "")


class ProfileFormView(FormStepView):
    """``PUT profile``: the logged-in person's, or a pending login's ``must_complete_profile``.

    A ``full_login`` answer logs the browser in again with the new token (new names, email).
    """

    form_class = login_forms.ProfileForm
    template_name = "authrocket/forms/profile.html"
    step = "profile"

    def check_step(self, request: HttpRequest) -> HttpResponse | None:
        pending = form_flow.pending_login(request)
        if pending is not None and pending.has("must_complete_profile"):
            self.session_id = pending.session
            return None
        session = form_flow.current_session(request)
        if session is None:
            return form_flow.redirect(
                form_flow.url_with_next("authrocket:form_login", request.get_full_path())
            )
        self.session_id = session
        return None

    def get_initial(self) -> dict[str, Any]:
        identity = getattr(self.request, "authrocket", None)
        if isinstance(identity, AuthRocketSession):
            user = identity.user
            return {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        return {}

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        return api.update_profile(self.session_id, form.changed_fields())

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        return self.message_page(_("Your profile has been saved"), "")


class OrgsFormView(FormStepView):
    """The org picker: ``GET session?account=`` gives a login for the chosen org, without
    leaving the site. For the logged-in person (the orgs of their token), or a pending login's
    ``no_account_selected`` (the orgs the Core API lists for its user)."""

    form_class = login_forms.OrgPickerForm
    template_name = "authrocket/forms/orgs.html"
    step = "orgs"

    def check_step(self, request: HttpRequest) -> HttpResponse | None:
        pending = form_flow.pending_login(request)
        if pending is not None and pending.has("no_account_selected"):
            self.session_id = pending.session
            self.choices = _orgs_of_session(pending.session)
            if self.choices is None:
                return self.message_page(
                    _("The login service could not be reached."),
                    _("Please try again in a moment."),
                    status=503,
                )
            return None
        session = form_flow.current_session(request)
        identity = getattr(request, "authrocket", None)
        if session is None or not isinstance(identity, AuthRocketSession):
            return form_flow.redirect(
                form_flow.url_with_next("authrocket:form_login", request.get_full_path())
            )
        self.session_id = session
        # The token names the selected org only: the others come from the mirror (access.py).
        memberships = access.memberships(identity)
        self.choices = [(m.org.id, m.org.name or m.org.id) for m in memberships]
        selected = access.membership(identity)
        self.selected = selected.org.id if selected else None
        return None

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()
        kwargs["choices"] = self.choices
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        return {"account": getattr(self, "selected", None)}

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        return api.get_session(self.session_id, form.cleaned_data["account"])


def _orgs_of_session(session_id: str) -> list[tuple[str, str]] | None:
    """The ``(org id, name)`` of the user of a LoginRocket session, through the Core API (the
    ``conditional_login`` answer names no orgs); None when it cannot be asked."""
    if not app_settings.URL or not app_settings.API_KEY:
        logger.warning("The org picker of a pending login needs AUTHROCKET_URL and _API_KEY")
        return None
    try:
        client = AuthRocketClient.from_settings()
        user_id = str(client.get_session(session_id).get("user_id") or "")
        if not user_id:
            return None
        choices = []
        for membership in client.iter_memberships(user_id=user_id):
            org = membership.get("org")
            org = org if isinstance(org, dict) else {}  # an org of another shape: its id only
            org_id = str(membership.get("org_id") or org.get("id") or "")
            if org_id:
                choices.append((org_id, str(org.get("name") or org_id)))
    except APIError as exc:
        logger.warning("The org picker could not list the orgs: %s", exc)
        return None
    return choices
