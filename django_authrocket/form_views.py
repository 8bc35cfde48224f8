"""The in-site login views: Django forms posted to this site, which calls the LoginRocket API.

One view per step, each a :class:`FormStepView`: login, the second factor, signup (or a
request for an invitation), forgot and reset password, change password, edit profile, and the
org picker. They answer 404 unless ``AUTHROCKET_LOGIN_FORMS`` is on. Every post is
CSRF-checked, every password field is hidden from error reports
(``sensitive_post_parameters``), no answer is cached, and a password is passed on to
LoginRocket and forgotten: it is never stored or logged. Templates:
``authrocket/forms/<step>.html``; see docs/login-forms.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib.auth.decorators import login_not_required
from django.db import connections, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView

from . import form_flow, login_forms, redirects
from .exceptions import CacheUnavailable
from .loginrocket_api import (
    Answer,
    ConditionalLogin,
    FullLogin,
    LoginRocketAPI,
    LoginRocketError,
    Okay,
)

#: The posted fields an error report never shows.
SENSITIVE_FIELDS = ("password", "password_confirmation", "current_password", "code", "token")


@method_decorator(
    [never_cache, login_not_required, csrf_protect, sensitive_post_parameters(*SENSITIVE_FIELDS)],
    name="dispatch",
)
class StepPage(FormView):  # type: ignore[type-arg]
    """One in-site step's page: 404 unless the forms are on, the step's checks, its templates.

    :class:`FormStepView` adds posting the form to LoginRocket; a step with nothing to post
    (:class:`CheckEmailView`) is a page only.
    """

    step: ClassVar[str] = "login"
    #: Whether the step needs a logged-in person (change password, profile).
    needs_login: ClassVar[bool] = False
    http_method_names = ["get", "post"]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """Outside ``ATOMIC_REQUESTS``, as the ``?token=`` login view: the token's replay mark
        must outlive a later error, and no transaction stays open across a call to LoginRocket."""
        view = super().as_view(**initkwargs)
        for alias in connections:
            view = transaction.non_atomic_requests(alias)(view)
        return view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        from .conf import app_settings

        if not app_settings.LOGIN_FORMS or not self.enabled():
            raise Http404
        if self.needs_login and form_flow.current_session(request) is None:
            return form_flow.redirect(
                form_flow.url_with_next("authrocket:form_login", request.get_full_path())
            )
        refusal = self.check_step(request)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)

    def enabled(self) -> bool:
        """False: this step answers 404 (the signup form with AUTHROCKET_FORMS_SIGNUP unset)."""
        return True

    def check_step(self, request: HttpRequest) -> HttpResponse | None:
        """A response instead of the form (a step reached out of order), or None."""
        return None

    # --- the form -------------------------------------------------------------------------

    def get_next_url(self) -> str | None:
        pending = form_flow.pending_login(self.request)
        return redirects.next_from(self.request) or (pending.next_url if pending else None)

    def get_success_url(self) -> str:
        """Where a finished login goes: the safe ``next``, else LOGIN_REDIRECT_URL."""
        next_url = redirects.safe_next(self.request, self.get_next_url())
        return next_url or redirects.after_login_url(self.request)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            step=self.step,
            next=self.get_next_url(),
            hosted_login_url=form_flow.url_with_next("authrocket:login", self.get_next_url()),
        )
        return context

    def message_page(self, title: str, text: str, *, status: int = 200) -> HttpResponse:
        """A page with a title and a sentence (``authrocket/forms/message.html``)."""
        return TemplateResponse(
            self.request,
            "authrocket/forms/message.html",
            {
                "title": title,
                "text": text,
                "step": self.step,
                "next": self.get_next_url(),
                "login_url": form_flow.url_with_next("authrocket:form_login", self.get_next_url()),
                "continue_url": self.get_success_url(),
            },
            status=status,
        )


# --- the steps ----------------------------------------------------------------------------


class FormStepView(StepPage, ABC):
    """One in-site step: show the form, post it to LoginRocket, follow the answer.

    Subclasses set ``form_class``, ``template_name``, ``step`` (the throttle's and the
    template's name) and implement :meth:`call`. Hooks: :meth:`get_success_url` (where a login
    ends), :meth:`on_okay`, :meth:`on_error`.
    """

    def form_valid(self, form: Any) -> HttpResponse:
        wait = form_flow.throttle(self.request, self.step)
        if wait is not None:
            return self.error_page(form, LoginRocketError("rate_limited", retry_after=wait))
        api = LoginRocketAPI.for_request(self.request)
        try:
            answer = self.call(api, form)
        except LoginRocketError as error:
            return self.on_error(form, error)
        try:
            return self.on_answer(form, answer)
        except CacheUnavailable:  # AUTHROCKET_CACHE failed: an outage, never a 500
            return self.error_page(form, LoginRocketError("unavailable"))

    @abstractmethod
    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        """The step's LoginRocket API call with the form's cleaned data: the one method each
        step's view defines (a view without it cannot be made, so it is never routed)."""

    # --- the answers ----------------------------------------------------------------------

    def on_answer(self, form: Any, answer: Answer) -> HttpResponse:
        if isinstance(answer, FullLogin):
            success_url = self.get_success_url()  # before the pending login (its next) goes
            failed, ok = form_flow.finish_login(self.request, answer, self.get_next_url())
            if not ok and failed is not None:
                return failed
            return form_flow.redirect(success_url)
        if isinstance(answer, ConditionalLogin):
            url = form_flow.next_step(self.request, answer, self.get_next_url())
            if url is None:
                return self.message_page(
                    _("This login needs a step this site does not offer."),
                    _("Please log in on the login page instead."),
                    status=409,
                )
            return form_flow.redirect(url)
        return self.on_okay(form, answer)

    def on_okay(self, form: Any, answer: Okay) -> HttpResponse:
        """``result: okay``: the step's own page (by default: back to the form, done)."""
        return self.message_page(_("Done."), "")

    def on_error(self, form: Any, error: LoginRocketError) -> HttpResponse:
        """An ``error`` answer next to its fields; everything else a clear page."""
        if error.kind == "invalid":
            form.add_loginrocket_errors(
                error.messages or [_("LoginRocket refused this.")], error.field_errors
            )
            return self.render_to_response(self.get_context_data(form=form), status=422)
        return self.error_page(form, error)

    def error_page(self, form: Any, error: LoginRocketError) -> HttpResponse:
        """The form again, with what happened at the top: a 429, 403, 404 or 503."""
        if error.kind == "rate_limited":
            message, status = _("Too many attempts. Please wait a moment, then try again."), 429
        elif error.kind == "denied":
            message, status = _("Your session has expired. Please log in again."), 403
            form_flow.forget_pending(self.request)
        elif error.kind == "not_found":
            message, status = _("This link or session is no longer valid."), 404
        else:
            message = _("The login service could not be reached. Please try again in a moment.")
            status = 503
        form.add_error(None, message)
        response = self.render_to_response(self.get_context_data(form=form), status=status)
        if error.kind == "rate_limited" and error.retry_after:
            response["Retry-After"] = str(int(error.retry_after + 0.999))
        return response


class LoginFormView(FormStepView):
    """Email or username, and password: ``POST login``."""

    form_class = login_forms.LoginForm
    template_name = "authrocket/forms/login.html"
    step = "login"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from .conf import app_settings

        context = super().get_context_data(**kwargs)
        context["signup"] = app_settings.FORMS_SIGNUP
        return context

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        return api.login(form.cleaned_data["login"], form.cleaned_data["password"])


def _pending_step(view: StepPage, request: HttpRequest, condition: str) -> HttpResponse | None:
    """A step of a pending login: the pending login on ``view``, or the "timed out" page."""
    pending = form_flow.pending_login(request)
    if pending is None or not pending.has(condition):
        return view.message_page(
            _("This login has timed out."), _("Please log in again."), status=409
        )
    view.pending = pending  # type: ignore[attr-defined]
    return None


class PendingStepView(FormStepView):
    """A step of a pending login (the second factor, an org, a profile to complete)."""

    condition: ClassVar[str] = ""
    #: The pending login, set by :meth:`check_step`.
    pending: form_flow.Pending

    def check_step(self, request: HttpRequest) -> HttpResponse | None:
        return _pending_step(self, request, self.condition)


class VerifyFormView(PendingStepView):
    """The second factor: ``POST login/verify`` with the pending session and the code."""

    form_class = login_forms.VerifyForm
    template_name = "authrocket/forms/verify.html"
    step = "verify"
    condition = "login_verification_required"

    def call(self, api: LoginRocketAPI, form: Any) -> Answer:
        return api.verify_login(self.pending.session, form.cleaned_data["code"])


class CheckEmailView(StepPage):
    """``must_verify_email``: the person is told to open the email LoginRocket sent (a page:
    nothing is posted to LoginRocket)."""

    form_class = login_forms.LoginRocketForm
    template_name = "authrocket/forms/message.html"
    step = "check_email"

    def check_step(self, request: HttpRequest) -> HttpResponse | None:
        return _pending_step(self, request, "must_verify_email")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form_flow.forget_pending(request)
        return self.message_page(
            _("Check your email"),
            _("Open the link in the email we sent you to verify your address, then log in."),
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.get(request, *args, **kwargs)
