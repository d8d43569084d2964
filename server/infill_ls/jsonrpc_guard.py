"""The JSON-RPC layer: every request gets exactly one response, however malformed the message.

pygls 2.1 turns each message into LSP types inside `json.loads(body, object_hook=structure_message)`. When
the params do not fit (`"line": "x"`, `"line": -1`, `"triggerKind": 7`) the exception escapes to the read
loop (`pygls.io_.run_async`), which logs it and shows the user an error: the request is never answered
and the client waits forever. A request with a notification's method ran as that notification, unanswered
(`exit` with an id ended the server); requests after `shutdown` were dropped; a malformed answer to one of
the server's own requests (`workspace/configuration`) left that request waiting forever.

Here the object hook keeps plain dicts, and `handle_message` checks the envelope and structures the whole
message itself. What it cannot take gets a JSON-RPC error response:

- -32700 parse error (id null): bytes that are not JSON (reported by the read loop, see `answer_unreadable`);
- -32600 invalid request: not an object, `jsonrpc` is not "2.0", an id that is neither an integer nor a
  string (id null), a method that is not a string, no method, a request after `shutdown`;
- -32601 method not found: no handler, or a notification's method sent as a request;
- -32602 invalid params: params that do not fit the method's LSP type.

A notification with bad params is logged and dropped (never answered), as is a response to no request of
ours (it never reaches a running handler); a malformed response to one of ours fails that request.

pygls also kept the future of every notification handler it ran; `_execute_handler` forgets each once done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

import attrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.v import transform_error
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
)
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage

from .documents import LspProtocol

log = logging.getLogger(__name__)
REASON_CHARS = 300
"""Longest reason quoted in an error message (a huge value must not come back whole)."""


def valid_id(value: Any) -> bool:
    """LSP ids are integers or strings (a JSON `true` is not an integer)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


class InfillProtocol(LspProtocol):
    """pygls' protocol with LSP-correct documents (LspProtocol) that answers every request (see the module
    docstring)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        """The `json.loads` object hook: keep every object a plain dict; `handle_message` structures."""
        return data

    def handle_message(self, message: Any) -> None:
        try:
            structured = self._accept(message)
        except Exception:  # a defect here must cost one message, never the server
            log.exception("could not check a message")
            msg_id = message.get("id") if isinstance(message, dict) and "method" in message else None
            if valid_id(msg_id):
                self._error(msg_id, JsonRpcInvalidRequest("the server could not read this request"))
            return
        if structured is None:
            return
        try:
            super().handle_message(structured)
        except Exception:
            log.exception("could not handle %s", getattr(structured, "method", "a response"))

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls files the future of every handler it runs (a notification's under a fresh uuid) in
        `_request_futures`, but removes only a request's, when it sends the answer: a notification's would stay
        for good (docs/reliability.md). Remove each once it is done."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(functools.partial(self._forget_later, msg_id, asyncio.get_running_loop()))

    def _forget_later(self, msg_id: Any, loop: asyncio.AbstractEventLoop, future: Any) -> None:
        # On the loop, later: a callback may run on a handler's thread, or inside pygls' own loop over
        # `_request_futures` (shutdown cancels what is running), where the dict must not change.
        with contextlib.suppress(RuntimeError):  # the loop has closed: the process is ending
            loop.call_soon_threadsafe(self._forget, msg_id, future)

    def _forget(self, msg_id: Any, future: Any) -> None:
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]

    def answer_unreadable(self, error: Exception) -> None:
        """The read loop's report of a body that is not JSON (or not UTF-8): a parse error, id null."""
        log.warning("message is not JSON: %s", reason(error))
        self._error(None, JsonRpcParseError(f"Parse error: {reason(error)}"))

    # --- checks ----------------------------------------------------------------------------------------

    def _accept(self, data: Any) -> Any:
        """The message as pygls' types, or None when it was answered or dropped here."""
        if not isinstance(data, dict):
            return self._invalid(None, f"a message is a JSON object, not {type(data).__name__}")
        if "method" in data:
            if "id" in data:
                return self._request(data)
            return self._notification(data)
        if "id" in data and ("result" in data or "error" in data):
            return self._response(data)
        msg_id = data.get("id")
        return self._invalid(msg_id if valid_id(msg_id) else None, "a message needs a method (or a result)")

    def _request(self, data: dict[str, Any]) -> Any:
        msg_id, method = data["id"], data["method"]
        if not valid_id(msg_id):
            return self._invalid(None, f"a request id is an integer or a string, not {msg_id!r:.40}")
        if data.get("jsonrpc") != self.VERSION:
            return self._invalid(msg_id, 'jsonrpc must be "2.0"')
        if not isinstance(method, str):
            return self._invalid(msg_id, "method must be a string")
        if self._shutdown:
            return self._invalid(msg_id, "the server is shutting down")
        try:
            self._get_handler(method)
        except JsonRpcMethodNotFound as exc:
            log.warning("request %r: unknown method %r", msg_id, method[:80])
            return self._error(msg_id, exc)
        message_type = self.get_message_type(method)
        if message_type is None:
            message_type = JsonRPCRequestMessage
            data = {"params": None, **data}  # params may be omitted (JSON-RPC)
        elif "id" not in attrs.fields_dict(message_type):
            log.warning("request %r: %s is a notification", msg_id, method)
            return self._error(msg_id, JsonRpcMethodNotFound(f"{method} is a notification, not a request"))
        try:
            return self._converter.structure(data, message_type)
        except Exception as exc:
            log.warning("request %r %s: invalid params: %s", msg_id, method, reason(exc))
            return self._error(msg_id, JsonRpcInvalidParams(f"Invalid params for {method}: {detail(exc)}"))

    def _notification(self, data: dict[str, Any]) -> Any:
        method = data["method"]
        if data.get("jsonrpc") != self.VERSION or not isinstance(method, str):
            # Its shape, never its values: a malformed didOpen still carries a document's text.
            log.warning("dropped a notification that is not JSON-RPC 2.0: jsonrpc %s, method %s",
                        reason(ValueError(data.get("jsonrpc")))[:20],
                        method[:80] if isinstance(method, str) else f"of type {type(method).__name__}")
            return None
        message_type = self.get_message_type(method)
        if message_type is None:
            message_type = JsonRPCNotification
            data = {"params": None, **data}
        try:
            return self._converter.structure(data, message_type)
        except Exception as exc:
            log.warning("dropped notification %s: invalid params: %s", method[:80], reason(exc))
            return None

    def _response(self, data: dict[str, Any]) -> Any:
        msg_id = data["id"]
        if not valid_id(msg_id) or msg_id not in self._result_types:
            # Only our own requests are answered; an id of an incoming request must not reach its task.
            log.warning("dropped a response to no request of ours: id %s", reason(ValueError(msg_id)))
            return None
        result_type = self._result_types.pop(msg_id) or JsonRPCResponseMessage
        message_type = types.ResponseErrorMessage if "error" in data else result_type
        try:
            return self._converter.structure(data, message_type)
        except Exception as exc:
            log.warning("malformed response to request %r: %s", msg_id, reason(exc))
            future = self._request_futures.pop(msg_id, None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcInvalidParams(f"malformed response: {reason(exc)}"))
            return None

    # --- answers ---------------------------------------------------------------------------------------

    def _invalid(self, msg_id: int | str | None, why: str) -> None:
        log.warning("invalid request (id %r): %s", msg_id, why)
        return self._error(msg_id, JsonRpcInvalidRequest(f"Invalid request: {why}"))

    def _error(self, msg_id: int | str | None, exc: JsonRpcException) -> None:
        # A dict, not lsprotocol's ResponseErrorMessage: its converter leaves out `"id": null`.
        self._send_data({"jsonrpc": self.VERSION, "id": msg_id, "error": {"code": exc.code, "message": exc.message}})


def detail(exc: BaseException) -> str:
    """What cattrs found wrong, one clause per field (`invalid value for type, expected int @ $.params...`)."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        return reason(ValueError("; ".join(transform_error(exc))))
    return reason(exc)
