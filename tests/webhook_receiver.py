"""A real HTTP webhook receiver for tests: a ThreadingHTTPServer on 127.0.0.1 (a free port) that records every
request and answers 500 to the first ``failures`` attempts of each event (per path), then 200."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["fanbase-webhook-id"]


class Receiver:
    def __init__(self, *, failures: int = 0, always_fail: frozenset[str] = frozenset(), delay: float = 0.0) -> None:
        self.failures = failures
        self.always_fail = always_fail  # paths that always answer 500
        self.delay = delay
        self.received: list[Received] = []
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [item for item in self.received if item.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                key = (self.path, headers.get("fanbase-webhook-id", ""))
                with receiver._lock:
                    receiver._attempts[key] += 1
                    failing = self.path in receiver.always_fail or receiver._attempts[key] <= receiver.failures
                    status = 500 if failing else 200
                    receiver.received.append(Received(self.path, headers, body, status))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        return Handler


@contextmanager
def running_receiver(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
