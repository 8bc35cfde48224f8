"""Sphinx configuration for the django-authrocket documentation (Markdown pages via MyST)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS / "_ext"), str(DOCS.parent)]

# The settings reference imports django_authrocket.conf. It reads no setting at import time,
# but Django must be configured before anything asks it for one.
import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(INSTALLED_APPS=[], USE_TZ=True)
    django.setup()

from django_authrocket import __version__  # noqa: E402

project = "django-authrocket"
author = "django-authrocket developers"
copyright = "django-authrocket developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = ["myst_parser", "authrocket_settings"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext", "requirements.txt", ".gitignore"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Broken cross-references (a misspelt {setting} or page link) fail the -W build.
nitpicky = True

html_theme = "furo"
html_title = f"django-authrocket {release}"
html_show_sourcelink = False
