"""Redis storage: a server or a cluster, behind the repository contract.

Needs the ``redis`` extra (redis-py and hiredis): ``pip install 'pyai[redis]'``.
"""

from __future__ import annotations

from ..errors import ConfigurationError

try:
    import redis as _redis_py  # noqa: F401
except ImportError:
    raise ConfigurationError(
        "Redis sessions need redis-py, which is not installed: pip install 'pyai[redis]'"
    ) from None

from .clients import dispose_clients
from .repository import RedisRepository
from .session import RedisSession

__all__ = ["RedisRepository", "RedisSession", "dispose_clients"]
