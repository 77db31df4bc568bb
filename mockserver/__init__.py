"""eventdouble's mock server: the 1Kosmos Events API (and, later, 10Duke) with real crypto."""

from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.settings import Settings

__all__ = ["Backend", "Settings", "create_app"]
