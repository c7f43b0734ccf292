"""The officials' area (dashboard): login required on every view.

Placeholder: the dashboard fills this blueprint (login, roles, CSRF, charts, lifecycle) and
installs the login check with :func:`tally_server.access.set_official_check`. Until then every
request here is refused with ``login_required``.
"""

from tally_server.officials.views import officials

__all__ = ["officials"]
