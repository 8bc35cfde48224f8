"""The example site's template filter ``ago``: "just now", or "5 minutes ago"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> str:
    """How long ago ``moment`` was, the way a person says it: "just now" within a minute
    (where Django's ``timesince`` says "0 minutes"), else "5 minutes ago"."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(elapsed)s ago") % {"elapsed": timesince(moment)}
