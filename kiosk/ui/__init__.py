"""The kiosk's PySide6 window: the only part of ``kiosk/`` that imports Qt.

:class:`kiosk.ui.window.KioskWindow` drives :class:`kiosk.core.session.Session` and shows its
:class:`~kiosk.core.session.View`; strings come from :mod:`kiosk.ui.text`.
"""
