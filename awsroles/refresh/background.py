"""One background worker per process that runs advisory-window refreshes.

The worker knows nothing about refresh windows: it runs the callables it is handed. A
credential object schedules itself at most once at a time (``schedule`` returns False when the
same key is already queued or running), so a burst of callers inside the advisory window makes
exactly one refresh. The worker thread is a daemon, started lazily, and restarted after
``fork()``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Hashable

from .._log import get_logger

log = get_logger("awsroles")

_MAX_QUEUED = 64


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: Any = None  # a queue.Queue, made on first use
        self._pending: set = set()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._idle = threading.Condition(self._lock)

    def schedule(self, key: Hashable, job: Callable[[], None]) -> bool:
        if self._pid != os.getpid():  # forked: the old thread does not exist here, and the
            self._reset_after_fork()  # lock may have been held by it at fork(): a new one
        with self._lock:
            if key in self._pending:
                return False
            import queue

            if self._queue is None:
                self._queue = queue.Queue(maxsize=_MAX_QUEUED)
            try:
                self._queue.put_nowait((key, job))
            except queue.Full:
                log.debug("background refresh queue is full; the refresh runs on a later call")
                return False
            self._pending.add(key)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="awsroles-refresh", daemon=True
                )
                self._thread.start()
            return True

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue = None
        self._pending = set()
        self._thread = None
        self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            key, job = self._queue.get()
            try:
                job()
            except Exception:  # the job reports its own failures; never kill the worker
                log.debug("background refresh job raised", exc_info=False)
            finally:
                with self._lock:
                    self._pending.discard(key)
                    self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (for tests and short-lived commands)."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending, timeout=timeout)


WORKER = _Worker()


def _after_fork_in_child() -> None:
    # The parent's worker thread does not exist in the child, and its lock may have been
    # held at fork(): start from scratch.
    WORKER._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def schedule(key: Hashable, job: Callable[[], None]) -> bool:
    return WORKER.schedule(key, job)


def wait_idle(timeout: float | None = 10.0) -> bool:
    return WORKER.wait_idle(timeout)
