"""A local AuthRocket + LoginRocket for tests and demos (never used by the app itself).

>>> from django_authrocket.testing import AuthRocketEmulator   # doctest: +SKIP
>>> with AuthRocketEmulator() as emu:                           # doctest: +SKIP
...     settings.update(emu.settings())

With pytest, use the ``authrocket_emulator`` fixture of the bundled plugin instead.
"""

from .clients import (
    authrocket_session_id,
    confirm_login,
    expire_login,
    log_in_through_site,
    recheck_at_next_request,
    start_login,
)
from .emulator import AuthRocketEmulator
from .faults import Fault
from .options import RealmOptions
from .recording import RecordedRequest

__all__ = [
    "AuthRocketEmulator",
    "Fault",
    "RealmOptions",
    "RecordedRequest",
    "authrocket_session_id",
    "confirm_login",
    "expire_login",
    "log_in_through_site",
    "recheck_at_next_request",
    "start_login",
]
