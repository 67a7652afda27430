"""An OpenAI-compatible ``/v1/chat/completions`` client over httpx (extra ``models``).

Everything without I/O lives in :class:`OpenAIChatModel` helpers shared by both flavours:
the request body (:meth:`~OpenAIChatModel._body`), reading a reply
(:meth:`~OpenAIChatModel._reply`) and the retry decision (:meth:`~OpenAIChatModel._step`).
:meth:`~OpenAIChatModel.complete` (``httpx.Client``) and
:meth:`~OpenAIChatModel.acomplete` (``httpx.AsyncClient``) are thin loops over them, so
the two cannot drift. httpx is imported only when a model is built: ``import pyai``
does not need it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError as PydanticValidationError

from ..sessions import Message
from ..sessions._message import to_message
from ..sessions.errors import ConfigurationError
from ._base import Model
from .errors import ModelError, ModelNotConfiguredError, ModelStatusError, ModelTimeoutError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "HOW_TO_CONFIGURE",
    "OpenAIChatModel",
    "resolve_model",
]

log = logging.getLogger("pyai.models")

ENV_MODEL = "PYAI_MODEL"
ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 2

HOW_TO_CONFIGURE = (
    f"set {ENV_MODEL} to a model name (with {ENV_BASE_URL} and {ENV_API_KEY} for the "
    f"server, e.g. {ENV_BASE_URL}=http://127.0.0.1:11434/v1 for Ollama; the default server "
    f"is {DEFAULT_BASE_URL}), or pass model=OpenAIChatModel('gpt-4o-mini', base_url=..., "
    "api_key=...) or any pyai.models.Model"
)

_PATH = "chat/completions"
# 408/409 (request timeout, lock conflict), 429 (rate limit) and 5xx are worth another
# try; the OpenAI client retries the same set.
_RETRY_STATUSES = frozenset({408, 409, 429})
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 8.0
# A Retry-After beyond this is not honoured (it would block a run for minutes);
# exponential backoff is used instead and the retries run out sooner.
_RETRY_AFTER_MAX = 60.0
_RESERVED_PARAMS = frozenset({"model", "messages", "stream"})
_KNOWN_REPLY_FIELDS = frozenset({"role", "content", "tool_calls", "name"})
_SNIPPET = 300


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _require_httpx() -> None:
    try:
        import httpx  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "OpenAIChatModel needs httpx, which is not installed: pip install 'pyai[models]'"
        ) from None


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class _Secret:
    """Holds the API key so that repr(), vars() and debuggers show ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


class OpenAIChatModel:
    """A model served over any OpenAI-compatible ``/v1/chat/completions`` endpoint:
    OpenAI, Azure OpenAI (v1 API), Ollama, vLLM, llama.cpp, LM Studio, ...

    Every argument left out is read from the environment: ``PYAI_MODEL``,
    ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``) and ``OPENAI_API_KEY``.
    The API key is sent as ``Authorization: Bearer ...`` and never appears in ``repr()``,
    log lines or error messages.

    Failed attempts are retried ``max_retries`` times with exponential backoff: HTTP 408,
    409, 429 and 5xx, timeouts and connection errors. A ``Retry-After`` (or
    ``retry-after-ms``) header of up to 60 seconds is honoured.

    The object owns its HTTP clients (one ``httpx.Client``, one ``httpx.AsyncClient``,
    made on first use and pooled): close it with :meth:`close` / :meth:`aclose` or use it
    as a (async) context manager. The async client belongs to the event loop that first
    used it; a call from another event loop uses a client of its own for that call.

    Args:
        model: the model name (``gpt-4o-mini``, ``llama3.2``, an Azure deployment, ...).
        base_url: the API root, ending in ``/v1`` as for the OpenAI SDK.
        api_key: the key; ``""`` sends none (local servers).
        timeout: seconds to wait for each network step of one attempt.
        max_retries: how many times a failed attempt is retried.
        params: extra request body fields, e.g. ``{"temperature": 0, "tools": [...]}``.
        headers: extra HTTP headers (e.g. ``{"api-key": ...}`` for Azure's key header).

    Raises:
        ModelNotConfiguredError: no model name given and ``PYAI_MODEL`` is not set.
        ConfigurationError: httpx is not installed (``pip install 'pyai[models]'``), or
            an argument is invalid.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        _require_httpx()
        name = model if model is not None else _env(ENV_MODEL)
        if name is None:
            raise ModelNotConfiguredError(f"OpenAIChatModel has no model name: {HOW_TO_CONFIGURE}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"model must be a non-empty string, got {name!r}")
        url = base_url if base_url is not None else (_env(ENV_BASE_URL) or DEFAULT_BASE_URL)
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError(f"base_url must be an http(s) URL, got {url!r}")
        key = api_key if api_key is not None else (_env(ENV_API_KEY) or "")
        if not isinstance(key, str):
            raise ConfigurationError("api_key must be a string or None")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ConfigurationError(f"timeout must be a positive number of seconds: {timeout!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be a non-negative integer: {max_retries!r}")
        extra = dict(params or {})
        reserved = sorted(_RESERVED_PARAMS.intersection(extra))
        if reserved:
            raise ConfigurationError(f"params may not set {reserved}: they are set per call")

        self.model: str = name
        self.base_url: str = url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.params: dict[str, Any] = extra
        self._api_key = _Secret(key) if key else None
        self._headers = {"Accept": "application/json", **dict(headers or {})}
        self._where = f"model {self.model!r} at {_safe_url(self.base_url)}"
        self._lock = threading.Lock()
        self._closed = False
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        key = "'***'" if self._api_key is not None else "None"
        return (
            f"OpenAIChatModel(model={self.model!r}, base_url={_safe_url(self.base_url)!r}, "
            f"api_key={key})"
        )

    # -- without I/O: shared by complete() and acomplete() -----------------------------

    def _client_options(self) -> dict[str, Any]:
        import httpx

        headers = dict(self._headers)
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        return {
            "base_url": self.base_url + "/",
            "headers": headers,
            "timeout": httpx.Timeout(self.timeout),
            "follow_redirects": False,
        }

    def _body(self, messages: Sequence[Message | dict[str, Any]]) -> dict[str, Any]:
        if isinstance(messages, str | bytes | dict | Message):
            raise ConfigurationError("complete() takes a list of messages, not one message")
        return {
            "model": self.model,
            "messages": [to_message(m).to_dict() for m in messages],
            **self.params,
        }

    def _redact(self, text: str) -> str:
        if self._api_key is not None:
            text = text.replace(self._api_key.reveal(), "***")
        return text

    def _snippet(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            data = None
        detail: Any = None
        if isinstance(data, dict):
            error = data.get("error")
            detail = error.get("message") if isinstance(error, dict) else error
        text = str(detail) if detail else response.text
        text = " ".join(text.split())
        if len(text) > _SNIPPET:
            text = text[:_SNIPPET] + "..."
        return self._redact(text)

    def _status_error(self, response: httpx.Response) -> ModelStatusError:
        status = response.status_code
        hint = ""
        if status in (401, 403):
            hint = f" (check the API key: api_key= or ${ENV_API_KEY})"
        elif status == 404:
            hint = " (check the model name, and that base_url ends with /v1)"
        detail = self._snippet(response)
        reason = response.reason_phrase
        return ModelStatusError(
            f"{self._where} answered HTTP {status} {reason}{hint}: {detail or '(no body)'}",
            status,
        )

    def _reply(self, response: httpx.Response) -> Message:
        try:
            data = response.json()
        except ValueError:
            raise ModelError(
                f"{self._where} sent a reply that is not JSON: {self._snippet(response)!r}"
            ) from None
        choice = None
        if isinstance(data, dict) and isinstance(data.get("choices"), list) and data["choices"]:
            choice = data["choices"][0]
        raw = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(raw, dict) or not isinstance(choice, dict):
            raise ModelError(
                f"{self._where} sent a reply without choices[0].message: "
                f"{self._snippet(response)!r}"
            )
        metadata: dict[str, Any] = {
            "model": data.get("model"),
            "response_id": data.get("id"),
            "finish_reason": choice.get("finish_reason"),
            "usage": data.get("usage"),
        }
        extra = {
            k: v for k, v in raw.items() if k not in _KNOWN_REPLY_FIELDS and v not in (None, [], {})
        }
        if extra:
            metadata["message_fields"] = extra
        try:
            return Message(
                role=raw.get("role") or "assistant",
                content=raw.get("content"),
                name=raw.get("name"),
                # Stored as they came; an empty list is no call (and OpenAI rejects it
                # when the message is sent back as history).
                tool_calls=raw.get("tool_calls") or None,
                metadata={k: v for k, v in metadata.items() if v is not None},
            )
        except PydanticValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            raise ModelError(f"{self._where} sent a reply pyai cannot read: {problems}") from None

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            asked = _retry_after(response.headers)
            if asked is not None and 0 <= asked <= _RETRY_AFTER_MAX:
                return asked
        backoff: float = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**attempt)
        return backoff * (1 - 0.25 * random.random())

    def _step(self, attempt: int, outcome: httpx.Response | httpx.HTTPError) -> Message | float:
        """What one attempt's outcome means.

        Returns:
            The reply, or the seconds to wait before the next attempt.

        Raises:
            ModelError: the call failed for good.
        """
        import httpx

        response = outcome if isinstance(outcome, httpx.Response) else None
        if response is not None and response.is_success:
            return self._reply(response)
        error: ModelError
        if response is not None:
            error = self._status_error(response)
            retryable = response.status_code in _RETRY_STATUSES or response.status_code >= 500
        elif isinstance(outcome, httpx.TimeoutException):
            error = ModelTimeoutError(
                f"{self._where} did not answer within {self.timeout:g}s "
                f"({type(outcome).__name__}); raise timeout= if the model is slow"
            )
            retryable = True
        else:
            detail = self._redact(str(outcome)) or type(outcome).__name__
            error = ModelError(f"{self._where} could not be reached: {detail}")
            retryable = isinstance(outcome, httpx.TransportError)
        if retryable and attempt < self.max_retries:
            delay = self._delay(attempt, response)
            log.info(
                "%s; retrying in %.2fs (retry %d of %d)",
                error,
                delay,
                attempt + 1,
                self.max_retries,
            )
            return delay
        if isinstance(outcome, httpx.HTTPError):
            raise error from outcome
        raise error

    # -- I/O ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ModelError(f"{self!r} is closed; create a new OpenAIChatModel")

    def _sync_client(self) -> httpx.Client:
        import httpx

        with self._lock:
            self._check_open()
            if self._client is None:
                self._client = httpx.Client(**self._client_options())
            return self._client

    def _async_client(self) -> tuple[httpx.AsyncClient, bool]:
        """The pooled async client of the running loop, or one for this call only."""
        import httpx

        loop = asyncio.get_running_loop()
        with self._lock:
            self._check_open()
            if self._aclient is None or (
                self._aclient_loop is not None and self._aclient_loop.is_closed()
            ):
                # A client left behind by a loop that has ended cannot be closed any
                # more; replace it.
                self._aclient = httpx.AsyncClient(**self._client_options())
                self._aclient_loop = loop
            if self._aclient_loop is loop:
                return self._aclient, False
        return httpx.AsyncClient(**self._client_options()), True

    def complete(self, messages: Sequence[Message | dict[str, Any]]) -> Message:
        """Send ``messages`` and return the reply.

        Args:
            messages: the conversation, oldest first (Message objects or OpenAI dicts).

        Returns:
            The reply: ``role`` and ``content`` as sent, ``tool_calls`` exactly as they
            came, and ``metadata`` with ``model``, ``response_id``, ``finish_reason`` and
            ``usage`` when the server gave them.

        Raises:
            ModelStatusError: an HTTP error, after the retries for retryable ones.
            ModelTimeoutError: no answer within ``timeout`` on any attempt.
            ModelError: the server could not be reached or sent an unreadable reply.
        """
        import httpx

        body = self._body(messages)
        client = self._sync_client()
        attempt = 0
        while True:
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = client.post(_PATH, json=body)
            except httpx.HTTPError as exc:
                outcome = exc
            step = self._step(attempt, outcome)
            if isinstance(step, Message):
                return step
            time.sleep(step)
            attempt += 1

    async def acomplete(self, messages: Sequence[Message | dict[str, Any]]) -> Message:
        """Async twin of :meth:`complete`, over ``httpx.AsyncClient``."""
        import httpx

        body = self._body(messages)
        client, for_this_call = self._async_client()
        try:
            attempt = 0
            while True:
                outcome: httpx.Response | httpx.HTTPError
                try:
                    outcome = await client.post(_PATH, json=body)
                except httpx.HTTPError as exc:
                    outcome = exc
                step = self._step(attempt, outcome)
                if isinstance(step, Message):
                    return step
                await asyncio.sleep(step)
                attempt += 1
        finally:
            if for_this_call:
                await client.aclose()

    # -- lifetime -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` or :meth:`aclose` was called."""
        return self._closed

    def close(self) -> None:
        """Close the sync HTTP client (use :meth:`aclose` in async code). Idempotent."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            self._aclient = self._aclient_loop = None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both HTTP clients. Idempotent."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            aclient, self._aclient = self._aclient, None
            loop, self._aclient_loop = self._aclient_loop, None
        if client is not None:
            client.close()
        if aclient is not None and loop is asyncio.get_running_loop():
            await aclient.aclose()

    def __enter__(self) -> OpenAIChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> OpenAIChatModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def resolve_model(model: Model | str | None = None, *, owner: str = "") -> Model:
    """The model to use: ``model`` itself, or an :class:`OpenAIChatModel` built from
    configuration.

    Args:
        model: a :class:`Model` (returned as is); a model name (an
            :class:`OpenAIChatModel` for it, server and key from the environment); or
            None (``$PYAI_MODEL``).
        owner: who needs the model, for the error message (e.g. ``"Agent 'Assistant'"``).

    Returns:
        The model. One built here is new and belongs to the caller, who closes it.

    Raises:
        ModelNotConfiguredError: ``model`` is None and ``PYAI_MODEL`` is not set; the
            message says how to configure a model.
        ConfigurationError: ``model`` is of the wrong type, or httpx is missing.
    """
    if model is None:
        if _env(ENV_MODEL) is None:
            who = f"{owner} has no model and " if owner else ""
            raise ModelNotConfiguredError(f"{who}no model is configured: {HOW_TO_CONFIGURE}")
        return OpenAIChatModel()
    if isinstance(model, str):
        return OpenAIChatModel(model)
    if isinstance(model, Model):
        return model
    raise ConfigurationError(
        "model must be a pyai.models.Model (with complete() and acomplete()), a model name "
        f"or None, got {type(model).__name__}"
    )
