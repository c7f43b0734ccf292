"""Background operations, as anki's ``QueryOp``: a job runs off the caller's thread and only
its success or failure callback touches state.

The core depends on the :class:`Executor` protocol only. :class:`InlineExecutor` runs a job at
once (the demo, load tests, most unit tests); :class:`ThreadExecutor` runs it on a worker
thread and hands the outcome to ``deliver`` — the Qt window binds ``deliver`` to a queued
signal so callbacks run on the UI thread, and the job itself to ``QThreadPool``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Executor(Protocol):
    def submit(
        self,
        job: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: Callable[[Exception], None],
    ) -> None: ...


class InlineExecutor:
    """Runs each job immediately on the caller's thread."""

    def submit(
        self,
        job: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: Callable[[Exception], None],
    ) -> None:
        try:
            result = job()
        except Exception as exc:
            on_failure(exc)
            return
        on_success(result)


def _call_now(callback: Callable[[], None]) -> None:
    callback()


class ThreadExecutor:
    """Runs jobs on worker threads; ``deliver(callback)`` decides where the outcome runs."""

    def __init__(
        self, workers: int = 2, deliver: Callable[[Callable[[], None]], None] = _call_now
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kiosk-job")
        self._deliver = deliver
        self._lock = threading.Lock()
        self._running: set[Future[Any]] = set()

    def submit(
        self,
        job: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: Callable[[Exception], None],
    ) -> None:
        def run() -> None:
            try:
                result = job()
            except Exception as exc:
                failure = exc
                self._deliver(lambda: on_failure(failure))
                return
            self._deliver(lambda: on_success(result))

        future = self._pool.submit(run)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._running.discard(future)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until every submitted job (and its callback) has finished (tests, shutdown)."""
        with self._lock:
            pending = list(self._running)
        for future in pending:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
