"""``headwise.serve``: the service's public entry points (see :mod:`headwise.service`).

>>> from headwise.serve import ServeSettings, create_app  # doctest: +SKIP
"""

from .service import TOKEN_ENV, ServeSettings, create_app, get_service, read_token, require_writer

__all__ = ["TOKEN_ENV", "ServeSettings", "create_app", "get_service", "read_token", "require_writer"]
