"""The Core API's and hosted pages' messages in the language ``Accept-Language`` asks for.

English or Spanish, the header read as the LoginRocket API reads it (lr_messages.py).

AuthRocket localises its error messages by ``Accept-Language``: authrocket-node
lib/authrocket.js turns its ``locale`` setting into that header, and authrocket-js's
LoginRocket test (loginrocket-js/test/loginrocket_test.js, "login w/locale") expects a
failed login in ``es`` to say "Error al iniciar sesión". The emulator translates the
messages a site is likely to show a person; any other message stays in English.
"""

from __future__ import annotations

from .lr_messages import language

__all__ = ["language", "translate"]

#: English message -> Spanish. The login failure is the one the official test checks.
_SPANISH: dict[str, str] = {
    "Login failed": "Error al iniciar sesión",
    "Not found": "No encontrado",
    "User not found": "Usuario no encontrado",
    "Org not found": "Organización no encontrada",
    "Session not found": "Sesión no encontrada",
    "Membership not found": "Membresía no encontrada",
    "Event not found": "Evento no encontrado",
    "Invitation not found": "Invitación no encontrada",
    "Email has already been taken": "El correo electrónico ya está en uso",
    "Email can't be blank": "El correo electrónico no puede estar vacío",
    "Email is invalid": "El correo electrónico no es válido",
    "Invalid API key": "Clave de API no válida",
    "User is inactive": "El usuario está inactivo",
    "Log in": "Iniciar sesión",
    "You are logged out.": "Has cerrado la sesión.",
    "Account inactive": "Cuenta inactiva",
    "This account cannot log in.": "Esta cuenta no puede iniciar sesión.",
    "Log in as someone else": "Iniciar sesión con otra cuenta",
    "Invalid redirect_uri": "redirect_uri no válido",
}


def translate(message: str, lang: str) -> str:
    """``message`` in ``lang`` when the emulator knows it, else as given."""
    if lang == "es":
        return _SPANISH.get(message, message)
    return message
