"""The migrations match the models: one initial migration, nothing left for makemigrations."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader

from django_authrocket.models import AuthRocketLogin

pytestmark = pytest.mark.django_db


def test_makemigrations_finds_no_changes() -> None:
    out = StringIO()
    # --check exits with status 1 when a model differs from what the migrations build.
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert "No changes detected" in out.getvalue()


def test_the_app_has_a_single_initial_migration() -> None:
    loader = MigrationLoader(connection)
    ours = sorted(name for app, name in loader.disk_migrations if app == "django_authrocket")
    assert ours == ["0001_initial"]


def test_a_login_row_cannot_lose_its_ref(django_user_model) -> None:
    user = django_user_model.objects.create(username="ada")
    row = AuthRocketLogin.objects.create(authrocket_session_id="kss_1", user=user, ref="r1")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthRocketLogin.objects.filter(pk=row.pk).update(ref=None)
