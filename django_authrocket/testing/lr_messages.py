"""The LoginRocket API's messages in English and Spanish, chosen by ``Accept-Language``.

Sources: the LoginRocket API's errors are localised by ``Accept-Language`` ("Accessing the
LoginRocket API", AuthRocket 2, /work/shared/seeds/004); the official tests match the failed
login in English (``/Login failed/``) and Spanish (``/Error al iniciar sesión/``), a wrong
current password (``/Current password does not match/``) and a dead session
(``/Session expired/``, ``/access denied/``): authrocket-js loginrocket-js/test/loginrocket_test.js
and lib/loginrocket.js ``handleError``. Every other wording is the emulator's choice, not
documented. Messages about a field begin with the field's English name in English
("Email ...", "Password ..."), so a site can place them next to the field.
"""

from __future__ import annotations

LANGUAGES = ("en", "es")

MESSAGES: dict[str, dict[str, str]] = {
    "login_failed": {
        "en": "Login failed. Check your email and password and try again.",
        "es": "Error al iniciar sesión. Revisa tu correo electrónico y tu contraseña.",
    },
    "session_expired": {
        "en": "Session expired or access denied.",
        "es": "La sesión ha caducado o el acceso fue denegado.",
    },
    "current_password": {
        "en": "Current password does not match.",
        "es": "La contraseña actual no coincide.",
    },
    "password_blank": {
        "en": "Password can't be blank.",
        "es": "La contraseña no puede estar en blanco.",
    },
    "password_short": {
        "en": "Password is too short (minimum is 8 characters).",
        "es": "La contraseña es demasiado corta (mínimo 8 caracteres).",
    },
    "password_confirmation": {
        "en": "Password confirmation doesn't match Password.",
        "es": "La confirmación de la contraseña no coincide.",
    },
    "email_blank": {
        "en": "Email can't be blank.",
        "es": "El correo electrónico no puede estar en blanco.",
    },
    "email_invalid": {
        "en": "Email is invalid.",
        "es": "El correo electrónico no es válido.",
    },
    "email_taken": {
        "en": "Email has already been taken.",
        "es": "El correo electrónico ya está en uso.",
    },
    "code_invalid": {
        "en": "Verification code is invalid.",
        "es": "El código de verificación no es válido.",
    },
    "token_invalid": {
        "en": "Token is invalid or has expired.",
        "es": "El enlace no es válido o ha caducado.",
    },
    "signup_closed": {
        "en": "Signups are not open.",
        "es": "El registro no está abierto.",
    },
    "invitation_required": {
        "en": "An invitation is required to sign up.",
        "es": "Se necesita una invitación para registrarse.",
    },
    "requests_closed": {
        "en": "Invitation requests are not accepted.",
        "es": "No se aceptan solicitudes de invitación.",
    },
    "account_not_found": {
        "en": "Account not found.",
        "es": "No se encontró la cuenta.",
    },
    "field_invalid": {
        "en": "{field} is invalid.",
        "es": "{field} no es válido.",
    },
    "rate_limited": {
        "en": "Rate limited; wait before trying again.",
        "es": "Demasiadas solicitudes; espera antes de volver a intentarlo.",
    },
    "request_invalid": {
        "en": "The request is invalid.",
        "es": "La solicitud no es válida.",
    },
    "bad_body": {
        "en": "The request body is not a JSON object or a form.",
        "es": "El cuerpo de la solicitud no es un objeto JSON ni un formulario.",
    },
    "not_found": {
        "en": "Not found.",
        "es": "No encontrado.",
    },
    "method_not_allowed": {
        "en": "Method not allowed here.",
        "es": "Método no permitido aquí.",
    },
    "origin_denied": {
        "en": "Origin not allowed.",
        "es": "Origen no permitido.",
    },
}


def language(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (English by default).

    Quality values are honoured; ``es-MX`` counts as ``es``; anything unparsable is ignored.
    """
    best, best_q = "en", -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if primary in LANGUAGES and q > 0 and q - position * 1e-6 > best_q:
            best, best_q = primary, q - position * 1e-6
    return best


def message(key: str, lang: str, **values: str) -> str:
    """The message ``key`` in ``lang`` (English when the key has no such translation)."""
    texts = MESSAGES[key]
    return texts.get(lang, texts["en"]).format(**values)
