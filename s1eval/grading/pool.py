"""A small pool of killable worker processes that bounds every comparison in time.

Why not Math-Verify's own timeout: it uses `signal.alarm`, which only works in the main thread and cannot
interrupt C-level work such as ``10**10**10``. Why not `concurrent.futures.ProcessPoolExecutor`: it cannot kill
one stuck task without breaking the whole pool. Here each worker is a process with its own pipe; a job that
overruns its deadline gets its worker killed and replaced, and reports ``timeout``. Workers are reused across
jobs (parsing caches stay warm) and are started through a forkserver that has already imported Math-Verify,
so a replacement costs milliseconds, not an interpreter start, and nothing is forked from a threaded parent.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
_PRELOAD = "s1eval.grading.equivalence"


@dataclass(frozen=True)
class Outcome:
    """What a job produced: status is ok (value set), timeout, or error (detail set)."""

    status: str
    value: Any = None
    detail: str = ""


def _worker_main(conn: Connection) -> None:
    import importlib

    module = importlib.import_module(_PRELOAD)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        job_id, fn_name, args = msg
        try:
            result: tuple[str, Any] = ("ok", getattr(module, fn_name)(*args))
        except Exception as err:  # noqa: BLE001 - reported to the parent, never raised in a worker
            result = ("error", f"{type(err).__name__}: {err}")
        conn.send((job_id, result))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.job: int | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """Run `fn(*args)` from `s1eval.grading.equivalence` in worker processes, each job bounded by `timeout_s`."""

    def __init__(self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
        self.size = workers or max(1, min(4, os.cpu_count() or 1))
        self.timeout_s = timeout_s
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload([_PRELOAD])
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.kills = 0

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx)

    def map(self, fn_name: str, jobs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """Run all jobs, at most `size` at a time; results in input order. Never raises for a job's failure."""
        with self._lock:
            return self._map(fn_name, jobs)

    def _map(self, fn_name: str, jobs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(jobs)
        while len(self._workers) < min(self.size, max(1, len(jobs))):
            self._workers.append(self._spawn())
        pending = list(range(len(jobs)))[::-1]
        busy: dict[Connection, _Worker] = {}
        while pending or busy:
            for idx, worker in enumerate(self._workers):
                if worker.job is None and pending and worker not in busy.values():
                    job = pending.pop()
                    try:
                        worker.conn.send((job, fn_name, jobs[job]))
                    except (BrokenPipeError, OSError):
                        worker = self._replace(idx)
                        worker.conn.send((job, fn_name, jobs[job]))
                    worker.job, worker.deadline = job, time.monotonic() + self.timeout_s
                    busy[worker.conn] = worker
            wait_for = max(0.0, min(w.deadline for w in busy.values()) - time.monotonic())
            for conn in wait(list(busy), timeout=wait_for):
                worker = busy.pop(conn)  # type: ignore[arg-type]
                results[worker.job] = self._receive(worker)  # type: ignore[index]
                worker.job = None
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                if worker.deadline <= now:
                    del busy[conn]
                    results[worker.job] = Outcome("timeout", detail=f"exceeded {self.timeout_s:g} s")  # type: ignore[index]
                    self._replace(self._workers.index(worker))
        return [r if r is not None else Outcome("error", detail="lost") for r in results]

    def _receive(self, worker: _Worker) -> Outcome:
        try:
            _job, (status, payload) = worker.conn.recv()
        except (EOFError, OSError) as err:  # the worker died (e.g. out of memory)
            self._replace(self._workers.index(worker))
            return Outcome("error", detail=f"worker died: {err!r}")
        if status == "ok":
            return Outcome("ok", value=payload)
        return Outcome("error", detail=str(payload))

    def _replace(self, idx: int) -> _Worker:
        old = self._workers[idx]
        old.kill()
        self.kills += 1
        log.debug("grading worker %d replaced (%d so far)", old.proc.pid, self.kills)
        self._workers[idx] = self._spawn()
        return self._workers[idx]

    def close(self) -> None:
        """Stop all workers (politely, then by force)."""
        with self._lock:
            for worker in self._workers:
                try:
                    worker.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
            for worker in self._workers:
                worker.proc.join(timeout=1)
                if worker.proc.is_alive():
                    worker.kill()
            self._workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DEFAULT: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The process-wide pool used by the lm-eval hooks and the CLI (created on first use, closed at exit)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = WorkerPool()
        atexit.register(_DEFAULT.close)
    return _DEFAULT
