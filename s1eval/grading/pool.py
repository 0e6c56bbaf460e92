"""A small pool of killable worker processes that bounds every comparison in time.

Why not Math-Verify's own timeout: it uses `signal.alarm`, which only works in the main thread and cannot
interrupt C-level work such as ``10**10**10``. Why not `concurrent.futures.ProcessPoolExecutor`: it cannot kill
one stuck task without breaking the whole pool. Here each worker is a separate interpreter
(``python -m s1eval.grading.pool FD FD``) talking over two pipes; a job that overruns its deadline gets its worker
killed and replaced, and reports ``timeout``. Workers are reused across jobs (parsing caches stay warm).
Subprocesses rather than `multiprocessing` start methods: nothing is forked from a threaded parent (lm-eval with
torch), and the parent's ``__main__`` is never re-imported (a script without a main guard still works).
Workers run in their own session, so Ctrl-C reaches only the parent, which kills them on exit; a worker whose
parent dies sees end-of-file on its pipe and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
_STARTUP_TIMEOUT_S = 120.0
_PRELOAD = "s1eval.grading.verdict"


@dataclass(frozen=True)
class Outcome:
    """What a job produced: status is ok (value set), timeout, or error (detail set)."""

    status: str
    value: Any = None
    detail: str = ""


def _worker_main(read_fd: int, write_fd: int) -> None:
    import importlib

    module = importlib.import_module(_PRELOAD)
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    getattr(module, "warm_up", lambda: None)()
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            msg = inbox.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job_id, fn_name, args = msg
        try:
            result: tuple[str, Any] = ("ok", getattr(module, fn_name)(*args))
        except Exception as err:  # noqa: BLE001 - reported to the parent, never raised in a worker
            result = ("error", f"{type(err).__name__}: {err}")
        outbox.send((job_id, result))


def _child_env() -> dict[str, str]:
    """The parent's environment, with the directory holding `s1eval` first on PYTHONPATH."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class _Worker:
    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "s1eval.grading.pool", str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            env=_child_env(),
            start_new_session=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.job: int | None = None
        self.deadline = 0.0

    def wait_ready(self, timeout_s: float = _STARTUP_TIMEOUT_S) -> None:
        """Block until the worker has imported Math-Verify, so start-up never counts against a job's time."""
        if not self.conn.poll(timeout_s):
            self.kill()
            raise RuntimeError(f"grading worker did not start within {timeout_s:g} s (python: {sys.executable})")
        self.conn.recv()

    def send(self, msg: object) -> None:
        self.outbox.send(msg)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)
        self.conn.close()
        self.outbox.close()


class WorkerPool:
    """Run `fn(*args)` from `s1eval.grading.verdict` in worker processes, each job bounded by `timeout_s`."""

    def __init__(self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
        self.size = workers or max(1, min(4, os.cpu_count() or 1))
        self.timeout_s = timeout_s
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.kills = 0

    def _spawn(self, ready: bool = True) -> _Worker:
        worker = _Worker()
        if ready:
            worker.wait_ready()
        return worker

    def map(self, fn_name: str, jobs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """Run all jobs, at most `size` at a time; results in input order. Never raises for a job's failure."""
        with self._lock:
            return self._map(fn_name, jobs)

    def _map(self, fn_name: str, jobs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(jobs)
        new = [self._spawn(ready=False) for _ in range(min(self.size, max(1, len(jobs))) - len(self._workers))]
        for worker in new:  # started together, awaited together
            worker.wait_ready()
        self._workers.extend(new)
        pending = list(range(len(jobs)))[::-1]
        busy: dict[Connection, _Worker] = {}
        while pending or busy:
            for idx, worker in enumerate(self._workers):
                if worker.job is None and pending and worker not in busy.values():
                    job = pending.pop()
                    try:
                        worker.send((job, fn_name, jobs[job]))
                    except (BrokenPipeError, OSError):
                        worker = self._replace(idx)
                        worker.send((job, fn_name, jobs[job]))
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
                with contextlib.suppress(BrokenPipeError, OSError):
                    worker.send(None)
            for worker in self._workers:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=1)
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


if __name__ == "__main__":
    _worker_main(int(sys.argv[1]), int(sys.argv[2]))
