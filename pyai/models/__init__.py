"""Language models for :class:`pyai.Agent`: the :class:`Model` protocol and an
OpenAI-compatible HTTP provider.

from pyai.models import OpenAIChatModel
from pyai.sessions import Message

with OpenAIChatModel("llama3.2", base_url="http://127.0.0.1:11434/v1", api_key="") as model:
    reply = model.complete([Message(role="user", content="Hello")])

Configuration by environment: ``PYAI_MODEL`` (model name), ``OPENAI_BASE_URL``,
``OPENAI_API_KEY``. :class:`OpenAIChatModel` needs the ``models`` extra (httpx);
importing this package does not.
"""

from __future__ import annotations

from ._base import Model
from ._openai import (
    DEFAULT_BASE_URL,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MODEL,
    OpenAIChatModel,
    resolve_model,
)
from .errors import ModelError, ModelNotConfiguredError, ModelStatusError, ModelTimeoutError

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "Model",
    "ModelError",
    "ModelNotConfiguredError",
    "ModelStatusError",
    "ModelTimeoutError",
    "OpenAIChatModel",
    "resolve_model",
]
