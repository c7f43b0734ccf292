"""The voter's kiosk. :mod:`kiosk.core` is the Qt-free part (session state machine, the one
token flow, the outbox, health); only ``kiosk/ui/`` may import PySide6."""
