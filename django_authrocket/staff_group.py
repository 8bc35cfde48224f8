"""The staff group: what AuthRocket staff may see in the Django admin, and who is in it.

``is_staff`` only opens the admin's door; without permissions a staff member sees "You don't
have permission to view or edit anything". So the people the staff-org rule makes staff
(``AUTHROCKET_STAFF_ORG`` + ``AUTHROCKET_STAFF_PERMISSION``) also join the group named by
``AUTHROCKET_STAFF_GROUP``, and leave it when they lose staff status.

The group is created when it does not exist, with the view permissions of the three mirror
models; an existing group is left as the site made it (grant it more, or less, in the admin).
It is created by a ``post_migrate`` receiver, not a data migration: its name is a setting, which a
migration must not read (it runs once, and a renamed group would never be made), while the
receiver follows the current setting at every ``migrate``, test databases included. A staff
login creates it too when it is missing (the setting changed since the last ``migrate``).
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, router

from .conf import app_settings
from .models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser

#: The models whose view permission the group is created with: what the admin shows of the mirror.
MIRROR_MODELS = (AuthRocketUser, AuthRocketOrg, AuthRocketMembership)


def group_name() -> str | None:
    """The staff group's name, or None when there is none: no group setting, or no staff rule."""
    if not app_settings.STAFF_PERMISSION:
        return None
    return app_settings.STAFF_GROUP


def staff_group(using: str | None = None) -> Group | None:
    """The staff group, created with the mirror's view permissions when missing; None without
    one (see :func:`group_name`)."""
    name = group_name()
    if name is None:
        return None
    groups = Group.objects.db_manager(using)
    group = groups.filter(name=name).first()
    if group is None:
        group, created = groups.get_or_create(name=name)  # a concurrent creation: theirs
        if created:
            group.permissions.set(view_permissions(using))
    return group


def view_permissions(using: str | None = None) -> list[Permission]:
    """The view permissions of :data:`MIRROR_MODELS` (those that exist: ``migrate`` makes them)."""
    types = ContentType.objects.db_manager(using).get_for_models(*MIRROR_MODELS)
    codenames = [f"view_{model._meta.model_name}" for model in MIRROR_MODELS]
    return list(
        Permission.objects.db_manager(using).filter(
            content_type__in=types.values(), codename__in=codenames
        )
    )


def follow_staff(user: AbstractBaseUser, is_staff: bool) -> None:
    """Put ``user`` in the staff group when ``is_staff``, take them out when not (nothing for a
    user model without groups, or without a staff group)."""
    groups = getattr(user, "groups", None)
    name = group_name()
    if groups is None or user.pk is None or name is None:
        return
    if is_staff:
        groups.add(staff_group(using=user._state.db))
    else:  # a group that does not exist has no one to take out: not created for that
        groups.remove(*Group.objects.db_manager(user._state.db).filter(name=name))


def after_migrate(
    sender: AppConfig,
    *,
    using: str = DEFAULT_DB_ALIAS,
    apps: Any = global_apps,
    **kwargs: Any,
) -> None:
    """``post_migrate`` (for this app): create the staff group when it is missing.

    Nothing when the migrated state lacks the mirror or Django's groups (a ``migrate`` back to
    zero, say), or the router keeps groups off this database.
    """
    if group_name() is None:
        return
    try:
        apps.get_model("auth", "Group")
        apps.get_model("django_authrocket", "AuthRocketUser")
    except LookupError:
        return
    if not router.allow_migrate_model(using, Group):
        return
    # Django's own receiver makes the permissions at this signal too, but receivers run in the
    # order the apps connected them: make sure they exist before the group is given them.
    from django.contrib.auth.management import create_permissions

    create_permissions(sender, verbosity=0, interactive=False, using=using)
    staff_group(using=using)
