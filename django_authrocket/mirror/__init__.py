"""The one home for every write to the mirror tables: AuthRocket users, orgs and memberships.

Nothing else in the package writes AuthRocketUser, AuthRocketOrg or AuthRocketMembership rows
(but the admin, which lets a superuser delete one).

* :mod:`.fields` maps AuthRocket objects (token claims, Get Session answers, Core API objects)
  onto the models' fields; it writes nothing.
* :mod:`.login` records a login: the person's row and the memberships the session carries.
* :mod:`.pages` writes Core API objects in bulk (the sync engine's pages, and the single objects
  the webhook endpoint and the admin read), creates local users for new AuthRocket users, and
  deactivates or removes what is gone upstream.

Rows are matched on AuthRocket ids, never on email, and written only when a value changed.
"""
