"""The JSON API under ``/api/v1`` (OpenAPI 3 document at ``/api/openapi.json``)."""

from tally_server.api.views import api

__all__ = ["api"]
