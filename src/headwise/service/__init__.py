"""The HTTP service behind `headwise serve` (needs ``pip install "headwise[serve]"``).

>>> from headwise.service import ServeSettings, create_app  # doctest: +SKIP
>>> app = create_app(ServeSettings("models/", read_only=True))  # doctest: +SKIP
"""

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ..exceptions import MissingDependencyError

    raise MissingDependencyError(
        f"`headwise serve` needs FastAPI and uvicorn ({exc.name} is missing): "
        'pip install "headwise[serve]".'
    ) from None

from ._label import label_router  # noqa: E402
from ._state import ServiceState  # noqa: E402
from .app import create_app  # noqa: E402
from .routes import get_service, require_writer  # noqa: E402
from .settings import TOKEN_ENV, ServeSettings, check_can_listen, read_token  # noqa: E402

__all__ = [
    "TOKEN_ENV",
    "ServeSettings",
    "ServiceState",
    "check_can_listen",
    "create_app",
    "get_service",
    "read_token",
    "require_writer",
    "label_router",
]
