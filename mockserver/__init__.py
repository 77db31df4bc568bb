"""eventdouble's mock server: the 1Kosmos Events and 10Duke Event Data APIs, with real crypto."""

from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.inprocess import MockServer
from mockserver.settings import Settings

__all__ = ["Backend", "MockServer", "Settings", "create_app"]
