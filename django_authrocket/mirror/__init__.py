"""The local mirror's only writer: every row of AuthRocketUser, AuthRocketOrg and
AuthRocketMembership is written through this package.

* :mod:`.fields` maps AuthRocket objects (token claims, Get Session answers, Core API objects)
  onto the models' fields; it writes nothing.
* :mod:`.login` records a login: the person's row and the memberships the session carries.
* :mod:`.pages` writes Core API objects in bulk (the sync engine's pages, and the single objects
  the webhook endpoint and the admin read), creates local users for new AuthRocket users, and
  deactivates or removes what is gone upstream.

Rows are matched on AuthRocket ids, never on email, and written only when a value changed.
"""
