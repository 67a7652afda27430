"""A local OpenAI-compatible responder: deterministic, offline, and not a language model.

It serves ``POST /v1/chat/completions`` (and ``GET /v1/models``) on 127.0.0.1 and
answers from the messages it was sent, nothing else, so it shows what an agent's
history really contains:

* "My name is Alice"           -> "Nice to meet you, Alice!"
* "What's my name?"            -> "Your name is Alice." when an earlier user message
                                  in the request said so, else "I don't know your name yet."
* "How many messages ...?"     -> how many messages the request held
* a message naming a tool given in ``tools`` -> a ``tool_calls`` reply calling it
* a ``tool`` result last       -> "The tool said: ..."
* anything else                -> "You said: ..."

Run it for a demo or for ``pyai chat``::

    python examples/local_model.py --port 8765
    PYAI_MODEL=local OPENAI_BASE_URL=http://127.0.0.1:8765/v1 pyai chat --session me

Tests start it in a thread, script faults (HTTP errors, delays, Retry-After) and read
what it received::

    with LocalModelServer() as server:
        server.script(Reply(status=500))
        model = OpenAIChatModel("local", base_url=server.base_url, api_key="")
        ...
        server.requests[-1].messages
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LABEL", "LocalModelServer", "Recorded", "Reply", "respond"]

LABEL = "pyai local responder (deterministic, offline; not a language model)"
MODEL_NAME = "pyai-local-responder"

_NAME_IS = re.compile(r"\bmy name is\s+([^\s.,!?;:]+)", re.IGNORECASE)
_ASKS_NAME = re.compile(r"\bwhat(?:'s|\u2019s| is)\s+my name\b", re.IGNORECASE)
_ASKS_COUNT = re.compile(r"\bhow many messages\b", re.IGNORECASE)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def respond(messages: list[dict[str, Any]], tools: list[Any] | None = None) -> dict[str, Any]:
    """The reply message (OpenAI chat format) to a list of messages: pure and deterministic."""
    last = messages[-1] if messages else {"role": "user", "content": ""}
    if last.get("role") == "tool":
        return {"role": "assistant", "content": f"The tool said: {_text(last.get('content'))}"}
    text = _text(last.get("content"))
    for tool in tools or []:
        name = (tool.get("function") or {}).get("name") if isinstance(tool, dict) else None
        if name and name.lower() in text.lower():
            call_id = f"call_{len(messages)}_{name}"
            arguments = json.dumps({"text": text})
            return {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                ],
            }
    stated = _NAME_IS.search(text)
    if stated:
        return {"role": "assistant", "content": f"Nice to meet you, {stated.group(1)}!"}
    if _ASKS_NAME.search(text):
        for earlier in reversed(messages[:-1]):
            if earlier.get("role") != "user":
                continue
            found = _NAME_IS.search(_text(earlier.get("content")))
            if found:
                return {"role": "assistant", "content": f"Your name is {found.group(1)}."}
        return {"role": "assistant", "content": "I don't know your name yet."}
    if _ASKS_COUNT.search(text):
        return {"role": "assistant", "content": f"I was sent {len(messages)} messages."}
    return {"role": "assistant", "content": f"You said: {text}"}


@dataclass
class Reply:
    """A scripted answer for the next request, instead of :func:`respond`'s.

    Attributes:
        status: the HTTP status.
        headers: extra response headers (e.g. ``{"Retry-After": "1"}``).
        delay: seconds to wait before answering (to make a client time out).
        message: the reply message; None: what :func:`respond` would say.
        body: a raw response body, sent as is (overrides everything else).
        barrier: wait at this barrier first (to hold concurrent requests together).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    message: dict[str, Any] | None = None
    body: bytes | None = None
    barrier: threading.Barrier | None = None


@dataclass
class Recorded:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages the request carried."""
        return list(self.body.get("messages") or [])


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (none outlives the server), and a delayed
    # answer waits on `stopping`, so close() never hangs on a scripted delay.
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: LocalModelServer, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) closes its socket mid-answer.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30
    error_content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = {"error": {"message": message, "type": "local_responder_error", "code": status}}
        self._send(status, json.dumps(body).encode(), headers)

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._error(404, f"no route {self.path}")
            return
        models = {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]}
        self._send(200, json.dumps(models).encode())

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route {self.path}; use /v1/chat/completions")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "the request body is not JSON")
            return
        owner._record(Recorded(self.path, dict(self.headers.items()), body))
        expected = None if owner.api_key is None else f"Bearer {owner.api_key}"
        if expected is not None and self.headers.get("Authorization") != expected:
            self._error(401, "Incorrect API key provided.")
            return
        if not isinstance(body.get("messages"), list):
            self._error(400, "'messages' must be a list")
            return
        if body.get("stream"):
            self._error(400, "the local responder does not stream; send stream=false")
            return
        reply = owner._next_reply()
        if reply.barrier is not None:
            reply.barrier.wait(timeout=30)
        if reply.delay and owner._stopping.wait(reply.delay):
            return
        if reply.body is not None:
            self._send(reply.status, reply.body, reply.headers)
            return
        if reply.status >= 400:
            self._error(reply.status, f"scripted HTTP {reply.status}", reply.headers)
            return
        message = reply.message or respond(body["messages"], body.get("tools"))
        self._send(
            reply.status, json.dumps(owner._completion(body, message)).encode(), reply.headers
        )


class LocalModelServer:
    """The responder on 127.0.0.1 in a background thread; a context manager.

    Args:
        port: the port; 0 picks a free one.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        verbose: log each request to stderr.
    """

    def __init__(self, port: int = 0, *, api_key: str | None = None, verbose: bool = False) -> None:
        self.api_key = api_key
        self.verbose = verbose
        self.requests: list[Recorded] = []
        self._scripted: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counter = 0
        self._server = _Server(self, ("127.0.0.1", port))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon close() is noticed
            name="local-model-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, then go back to normal."""
        with self._lock:
            self._scripted.extend(replies)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._scripted.popleft() if self._scripted else Reply()

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _completion(self, request: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            number = self._counter
        prompt = sum(len(_text(m.get("content")).split()) for m in request["messages"])
        completion = len(_text(message.get("content")).split())
        return {
            "id": f"chatcmpl-local-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or MODEL_NAME,
            "system_fingerprint": "pyai-local",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def close(self) -> None:
        """Stop serving, release delayed answers, close the socket, join the threads."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> LocalModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=LABEL)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--api-key", help="require this bearer key")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    with LocalModelServer(args.port, api_key=args.api_key, verbose=args.verbose) as server:
        print(f"{LABEL} at {server.base_url}", flush=True)
        print(f"  PYAI_MODEL={MODEL_NAME} OPENAI_BASE_URL={server.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
