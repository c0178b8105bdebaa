"""The HTTP API: a Litestar app built by `create_app(ApiServices(...))`."""

from api.app import create_app
from api.deps import ApiServices

__all__ = ["ApiServices", "create_app"]
