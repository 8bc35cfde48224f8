"""The Django forms of the in-site login views, and LoginRocket's errors put next to their fields.

Plain :class:`django.forms.Form` classes (subclass or replace them in a template). Password
fields never render their value back (``render_value=False``) and are never stored: the views
pass them on to LoginRocket and forget them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

#: The first word of a LoginRocket message -> the form field it is about ("Email is invalid",
#: "Password is too short", "Current password does not match"). Messages without a known first
#: word go to the top of the form.
_FIELD_WORDS: Mapping[str, tuple[str, ...]] = {
    "current password": ("current_password",),
    "password confirmation": ("password_confirmation",),
    "password": ("password",),
    "email": ("email", "login"),
    "username": ("username", "login"),
    "first name": ("first_name",),
    "last name": ("last_name",),
    "code": ("code",),
    "verification code": ("code",),
    "token": ("token",),
}
#: LoginRocket's field names -> this package's form fields, for a ``field_errors`` map.
_FIELD_NAMES: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "login"),
    "username": ("username", "login"),
}


def _password(label: Any, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}, render_value=False),
    )


class LoginRocketForm(forms.Form):
    """A form whose errors may come from LoginRocket: :meth:`add_loginrocket_errors`."""

    def add_loginrocket_errors(
        self, messages: Iterable[str], field_errors: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        """Put LoginRocket's messages next to the field each is about, the rest at the top.

        ``field_errors`` (a name -> messages map, when LoginRocket sends one) wins; a plain
        message goes to the field its first words name ("Password is too short").
        """
        for name, texts in (field_errors or {}).items():
            target = self._field_for(_FIELD_NAMES.get(name, (name,)))
            for text in texts:
                self.add_error(target, text)
        for text in messages:
            if any(text in errors for errors in self.errors.values()):
                continue  # the same message came in both shapes
            self.add_error(self._field_named_by(text), text)

    def _field_named_by(self, message: str) -> str | None:
        lowered = message.lower()
        for words in sorted(_FIELD_WORDS, key=len, reverse=True):
            if lowered.startswith(words):
                return self._field_for(_FIELD_WORDS[words])
        return None

    def _field_for(self, names: Iterable[str]) -> str | None:
        return next((name for name in names if name in self.fields), None)


class NewPasswordForm(LoginRocketForm):
    """A form that sets a password: ``password`` and ``password_confirmation`` must agree."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_confirmation"):
            self.add_error("password_confirmation", _("The two passwords differ."))
        return data


class LoginForm(LoginRocketForm):
    """Email address or username, and password."""

    login = forms.CharField(
        label=_("Email or username"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = _password(_("Password"), "current-password")


class VerifyForm(LoginRocketForm):
    """The second factor: the code from the person's authenticator app."""

    code = forms.CharField(
        label=_("Verification code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        return "".join(str(self.cleaned_data["code"]).split())


class SignupForm(NewPasswordForm):
    """A new account, in a realm whose signup is open."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True}))
    password = _password(_("Password"), "new-password")
    password_confirmation = _password(_("Password (again)"), "new-password")


class InvitationRequestForm(LoginRocketForm):
    """A request for an invitation, in a realm whose signup is by invitation."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True}))


class ForgotPasswordForm(LoginRocketForm):
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True}))


class ResetPasswordForm(NewPasswordForm):
    """A new password (the emailed link's token is kept by the view, not in the form)."""

    password = _password(_("New password"), "new-password")
    password_confirmation = _password(_("New password (again)"), "new-password")


class ChangePasswordForm(NewPasswordForm):
    current_password = _password(_("Current password"), "current-password")
    password = _password(_("New password"), "new-password")
    password_confirmation = _password(_("New password (again)"), "new-password")


class ProfileForm(LoginRocketForm):
    """Names and email: what ``PUT profile`` changes (and what ``must_complete_profile`` asks)."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"))

    def changed_fields(self) -> dict[str, str]:
        """The cleaned values, for ``PUT profile``."""
        return {name: str(self.cleaned_data.get(name) or "") for name in self.fields}


class OrgPickerForm(LoginRocketForm):
    """Which of the person's orgs to use: ``choices`` are ``(org id, name)`` pairs."""

    account = forms.ChoiceField(label=_("Organization"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, choices: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = list(choices)
