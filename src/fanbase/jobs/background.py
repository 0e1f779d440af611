"""What the scheduler and webhook delivery share: a daemon thread running a loop until asked to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Self

from fanbase.services.unit_of_work import Database


class BackgroundLoop:
    """``start()`` runs ``run_until(stop)`` in a daemon thread named ``thread_name``; ``stop()`` sets ``stop`` and
    waits for the loop to return (a round in progress finishes first). Each round reads the time from ``clock``
    and works on ``database``; ``interval`` is the pause between rounds, in seconds."""

    thread_name = "fanbase-background"

    def __init__(self, database: Database, *, clock: Callable[[], datetime], interval: float) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_until(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def run_forever(self) -> None:
        """The loop in the calling thread (``fanbase worker`` runs the scheduler so), until ``stop()``."""
        self.run_until(self._stop)

    def start(self) -> Self:
        if not self.is_running:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run_forever, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
