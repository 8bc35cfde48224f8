"""The HTTP server: a threading stdlib server that records requests and applies faults.

Routing lives in :mod:`.app`; this module only speaks HTTP. It stops promptly (a wake-up
socket ends the accept loop, no polling) and closes its open keep-alive connections on the
way out, so starting and stopping many emulators in one process leaks neither ports nor threads.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import selectors
import socket
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django_authrocket.redaction import redact

from .faults import Fault, FaultList
from .ids import random_token
from .recording import Headers, RecordedRequest, RequestLog
from .wire import JSON_TYPE, Request, Response, error_response, html_response

logger = logging.getLogger("django_authrocket.testing")

MAX_BODY_BYTES = 1024 * 1024
OVERSIZE_BYTES = 20 * 1024 * 1024
STOP_JOIN_TIMEOUT = 2.0

App = Callable[[Request], Response]

# Faults that let the request reach the app (the answer is then spoiled on the way out).
_FAULTS_THAT_RUN_THE_APP = frozenset({"latency", "reset", "truncated_json", "content_type"})


@functools.cache
def _oversize_body() -> bytes:
    """A valid JSON document of about 20 MB (built once)."""
    return b'{"collection": [], "more_results": false, "padding": "' + b"x" * OVERSIZE_BYTES + b'"}'


def _fault_response(fault: Fault, answer: Response | None) -> Response:
    """The response a fault sends instead of (or made from) the app's ``answer``."""
    if fault.kind == "status":
        response = error_response(fault.status, f"Injected fault: HTTP {fault.status}")
        if fault.retry_after is not None:
            response.headers.append(("Retry-After", str(fault.retry_after)))
        return response
    if fault.kind == "malformed_json":
        return Response(200, b'{"object": "session", "id": "kss_\x00<oops', JSON_TYPE)
    if fault.kind == "html":
        page = "<!doctype html><title>502 Bad Gateway</title><h1>502 Bad Gateway</h1><hr>nginx"
        return html_response(200, page)
    if fault.kind == "oversize":
        return Response(200, _oversize_body(), JSON_TYPE)
    if fault.kind == "body":
        return Response(fault.status, fault.body, fault.content_type)
    assert answer is not None
    if fault.kind == "truncated_json":
        return Response(200, answer.body[: len(answer.body) // 2], JSON_TYPE, answer.headers)
    if fault.kind == "content_type":
        return Response(answer.status, answer.body, "text/plain; charset=utf-8", answer.headers)
    return answer  # latency, reset: the real answer


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` that stops without polling and tracks its connections."""

    daemon_threads = True
    block_on_close = False  # stop() closes the connections and joins the threads itself

    def __init__(
        self, address: tuple[str, int], app: App, faults: FaultList, log: RequestLog
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.app = app
        self.faults = faults
        self.log = log
        self.errors: list[str] = []
        #: Bumped by the emulator's reset(): a request that arrived before it (say, one held by
        #: a latency fault whose client gave up) must not touch the data of the next test.
        self.epoch = 0
        self.stopping = threading.Event()
        self._loop_done = threading.Event()
        self._loop_done.set()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._loop_thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Serve in a daemon thread until :meth:`stop`."""
        self._loop_done.clear()
        self._loop_thread = threading.Thread(
            target=self.serve_forever, name=f"authrocket-emulator:{self.server_port}", daemon=True
        )
        self._loop_thread.start()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept connections until :meth:`shutdown`; ``poll_interval`` is unused (no polling)."""
        self._loop_done.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self.stopping.is_set():
                    for key, _ in selector.select():
                        if key.fileobj is self and not self.stopping.is_set():
                            self.handle_request()
        finally:
            self._loop_done.set()

    def shutdown(self) -> None:
        """Stop the accept loop now and wait for it to end."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        self._loop_done.wait()

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection, join threads."""
        self.shutdown()
        if self._loop_thread is not None:
            self._loop_thread.join(STOP_JOIN_TIMEOUT)
        self.server_close()
        with self._lock:
            connections, threads = list(self._connections), list(self._handler_threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + STOP_JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._wake_reader.close()
        self._wake_writer.close()

    # -- connections --------------------------------------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        """Handle the connection in a tracked daemon thread."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"authrocket-emulator:{self.server_port}:connection",
            daemon=True,
        )
        with self._lock:
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then forget it."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal here; anything else is logged."""
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AuthRocketEmulator/1.0"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this long
    disable_nagle_algorithm = True  # with keep-alive, Nagle + delayed ACK costs 40 ms a request
    server: EmulatorHTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # OPTIONS: CORS preflight

    def log_message(self, format: str, *args: Any) -> None:
        # Like AuthRocket's own logs should: a Get Session by token has the token in the path.
        logger.debug("%s %s", self.address_string(), redact(format % args))

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        request = Request(
            method=self.command,
            path=url.path or "/",
            query=parse_qs(url.query, keep_blank_values=True),
            headers=Headers(self.headers.items()),
            body=body or b"",
            client=str(self.client_address[0]),
        )
        # Logged on arrival, so a request still in flight (say, one a client timed out on)
        # is already counted; status stays 0 until an answer is sent.
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            status=0,
            at=time.time(),
            request_id=f"rq_{random_token(22)}",
        )
        self.server.log.add(record)
        if body is None:
            self._answer(record, self._early_answer())
            return

        fault = self.server.faults.take(request.method, request.path)
        record.fault = fault.kind if fault else None
        answer = None
        if fault is None or fault.kind in _FAULTS_THAT_RUN_THE_APP:
            if fault is not None and fault.kind == "latency":
                epoch = self.server.epoch
                self.server.stopping.wait(fault.delay)
                if self.server.epoch != epoch:  # reset while this request waited: drop it
                    self.close_connection = True
                    return
            answer = self._run_app(request)
        if fault is None:
            assert answer is not None
            self._answer(record, answer)
        elif fault.kind == "drop":
            self.close_connection = True
        elif fault.kind == "reset":
            assert answer is not None
            record.status = answer.status
            self._write_head(answer, record.request_id, len(answer.body))
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.close_connection = True
        else:
            self._answer(record, _fault_response(fault, answer))

    def _read_body(self) -> bytes | None:
        """The request body; None when it cannot be read (``_early_answer`` says why)."""
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _early_answer(self) -> Response:
        self.close_connection = True
        if self.headers.get("Transfer-Encoding"):
            return error_response(411, "Send a Content-Length; chunked bodies are not supported")
        return error_response(413, f"Request bodies are limited to {MAX_BODY_BYTES} bytes")

    def _run_app(self, request: Request) -> Response:
        try:
            return self.server.app(request)
        except Exception as error:  # one bad request must not kill the server
            self.server.errors.append(traceback.format_exc())
            logger.exception("emulator error on %s %s", request.method, request.path)
            return error_response(500, f"Internal emulator error: {type(error).__name__}: {error}")

    def _answer(self, record: RecordedRequest, answer: Response) -> None:
        record.status = answer.status
        self._write_head(answer, record.request_id, len(answer.body), body=answer.body)

    def _write_head(
        self, answer: Response, request_id: str, length: int, *, body: bytes = b""
    ) -> None:
        """Send the status line, the headers and ``body``."""
        self.send_response(answer.status)
        self.send_header("X-Request-ID", request_id)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.status not in (204, 304) and not 100 <= answer.status < 200:
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
