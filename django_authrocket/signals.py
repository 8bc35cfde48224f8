"""Signals django-authrocket sends.

``authrocket_login``
    After a successful AuthRocket login or first login, before the redirect.
    Arguments: ``user``, ``session`` (:class:`~django_authrocket.identity.AuthRocketSession`),
    ``request``, ``created`` (whether the local user was just created).

``authrocket_user_synced``
    After the mirror of one user was written by a login, a sync run or a webhook.
    Arguments: ``user``, ``authrocket_user``, ``created``.

``authrocket_event``
    For every webhook event accepted. Arguments: ``event`` (the event dict), ``event_type``.
"""

from __future__ import annotations

from django.dispatch import Signal

authrocket_login = Signal()
authrocket_user_synced = Signal()
authrocket_event = Signal()
