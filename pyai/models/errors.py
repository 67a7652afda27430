"""The errors a model call raises, under the same root as every pyai error.

::

    SessionError                     (pyai.sessions.errors: the root of every pyai error)
    └── ModelError                   a model call failed; the run stored nothing
        ├── ModelNotConfiguredError  no model given or configured (also a ConfigurationError)
        ├── ModelStatusError         the server answered with an HTTP error (``status_code``)
        └── ModelTimeoutError        no answer within the timeout, after the retries

HTTP client exceptions never leak: they are translated where the request is sent, with
``raise ... from exc``. No message ever contains the API key.
"""

from __future__ import annotations

from ..sessions.errors import ConfigurationError, SessionError

__all__ = [
    "ModelError",
    "ModelNotConfiguredError",
    "ModelStatusError",
    "ModelTimeoutError",
]


class ModelError(SessionError):
    """A model call failed; a run that made it stored nothing."""


class ModelNotConfiguredError(ModelError, ConfigurationError):
    """No model was given and none is configured; the message says how to configure one."""


class ModelStatusError(ModelError):
    """The model server answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status of the last attempt.
    """

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ModelTimeoutError(ModelError):
    """The model server did not answer within the timeout, on any attempt."""
