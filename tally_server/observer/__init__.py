"""The public observer pages (no login): Japanese first, then English; no JavaScript."""

from tally_server.observer.views import observer

__all__ = ["observer"]
