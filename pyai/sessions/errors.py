"""The errors pyai raises, all rooted at :class:`SessionError`.

::

    SessionError
    ├── ValidationError          bad input (role, content, metadata, id, option); nothing written
    │   └── ImportFormatError    an export document that is malformed or of an unknown version
    ├── SessionExistsError       import_data(mode="error") into a session that has messages
    ├── SessionClosedError       a session or store used after close()
    ├── ConfigurationError       bad URL, unknown scheme, missing optional extra
    ├── SchemaError              the database is not at the newest migration (names the fix)
    ├── BackendError             the database or server failed; the driver error is chained
    │   └── BackendUnavailableError   could not connect (host named, never the password)
    └── DecryptionError          data written under a key that was not given

Driver exceptions never leak: they are translated at the backend boundary with
``raise ... from exc`` so the original stays available as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "ConfigurationError",
    "DecryptionError",
    "ImportFormatError",
    "SchemaError",
    "SessionClosedError",
    "SessionError",
    "SessionExistsError",
    "ValidationError",
]


class SessionError(Exception):
    """Root of every error raised by pyai sessions."""


class ValidationError(SessionError, ValueError):
    """Input was rejected before anything was written."""


class ImportFormatError(ValidationError):
    """An export document is malformed, tampered with, or of an unsupported version."""


class SessionExistsError(SessionError):
    """``import_data(mode="error")`` found messages in the target session.

    Use ``mode="replace"`` or ``mode="append"`` to write anyway.
    """


class SessionClosedError(SessionError):
    """The session or store was closed; create a new one."""


class ConfigurationError(SessionError, ValueError):
    """A URL, option or optional dependency is wrong or missing."""


class SchemaError(SessionError):
    """The database schema is not at the revision this version of pyai needs."""


class BackendError(SessionError):
    """The database or server reported an error; the driver's error is ``__cause__``."""


class BackendUnavailableError(BackendError):
    """The database or server could not be reached."""


class DecryptionError(SessionError):
    """Stored data could not be decrypted with the keys given; nothing was changed."""
