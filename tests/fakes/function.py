"""The real function, served by `functions-framework` in a process of its own.

It runs exactly as Cloud Functions would load it (`--source function/main.py --target …`),
so the end-to-end tests and the local demo go through the real entry point, the real
CloudEvent decoding and the real HTTP server. The process is started in its own process
group so that a test can SIGKILL it (the whole instance dies, as it does when Cloud
Functions kills it) and start a fresh one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0
#: The allocator's settings the deployment gives both functions (infra/main.tf,
#: `allocator_environment`), so that the local stack's memory is production's.
ALLOCATOR_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FunctionServer:
    """`functions-framework --target TARGET` on a free port, with the given environment."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        target: str = "on_object_finalized",
        signature_type: str = "cloudevent",
        log_path: Path | None = None,
        port: int | None = None,
        root: Path = ROOT,
    ) -> None:
        """`root`: the checkout whose function/ is served (another one: a benchmark's baseline)."""
        self.root = root
        self.env = dict(env)
        self.target = target
        self.signature_type = signature_type
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> FunctionServer:
        env = {
            **ALLOCATOR_ENVIRONMENT,
            **os.environ,
            **self.env,
            "PYTHONPATH": str(self.root / "function"),
        }
        env.setdefault("THREADS", "8")
        if self._log is not None:  # a restart after kill(): the old handle is done
            self._log.close()
        executable = Path(sys.executable).with_name("functions-framework")
        stdout = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._log = stdout if self.log_path else None
        self.process = subprocess.Popen(
            [
                str(executable),
                "--source",
                str(self.root / "function" / "main.py"),
                "--target",
                self.target,
                "--signature-type",
                self.signature_type,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"functions-framework exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)  # waiting for a port to open, not for a race
        raise RuntimeError("functions-framework did not start listening in time")

    def kill(self) -> None:
        """SIGKILL the whole instance, mid-whatever it was doing."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> FunctionServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
