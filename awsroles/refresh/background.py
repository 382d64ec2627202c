"""One background worker per process that runs advisory-window refreshes.

The worker knows nothing about refresh windows: it runs the callables it is handed. A
credential object schedules itself at most once at a time (``schedule`` returns False when the
same key is already queued or running), so a burst of callers inside the advisory window makes
exactly one refresh. The worker thread is a daemon, started lazily, and started afresh in a
forked child.
"""

from __future__ import annotations

import threading

from .._fork import track as reset_after_fork
from .._log import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    import queue
    from typing import Callable, Hashable, Optional, Set, Tuple

    Job = Callable[[], None]

__all__ = ["schedule", "wait_idle"]

log = get_logger("awsroles")

_MAX_QUEUED = 64


class _Worker:
    def __init__(self) -> None:
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: Optional[queue.Queue[Tuple[Hashable, Job]]] = None  # made on first use
        self._pending: Set[Hashable] = set()
        self._thread: Optional[threading.Thread] = None

    def _after_fork(self) -> None:
        # The parent's worker thread does not exist in the child, and its lock may have been
        # held at fork(): start from scratch.
        self._reset()

    def schedule(self, key: Hashable, job: Job) -> bool:
        import queue

        with self._lock:
            if key in self._pending:
                return False
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
                    target=self._run, args=(self._queue,), name="awsroles-refresh", daemon=True
                )
                self._thread.start()
            return True

    def _run(self, jobs: queue.Queue[Tuple[Hashable, Job]]) -> None:
        while True:
            key, job = jobs.get()
            try:
                job()
            except Exception:  # the job reports its own failures; never kill the worker
                log.debug("background refresh job raised", exc_info=False)
            finally:
                with self._lock:
                    self._pending.discard(key)
                    self._idle.notify_all()

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until nothing is queued or running (for tests and short-lived commands)."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending, timeout=timeout)


WORKER = _Worker()


def schedule(key: Hashable, job: Job) -> bool:
    """Run ``job`` on the worker unless a job with ``key`` is queued or running."""
    return WORKER.schedule(key, job)


def wait_idle(timeout: Optional[float] = 10.0) -> bool:
    return WORKER.wait_idle(timeout)
