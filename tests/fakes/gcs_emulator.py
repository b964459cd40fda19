"""`gcp-storage-emulator` as a real HTTP server in a child process.

The emulator is single-threaded and answers HTTP/1.0 (one request per connection); the
precondition proxy in front of it (gcs_proxy.py) caps how many requests it sends at once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import IO, Any

_START_TIMEOUT_S = 30.0
_REQUEST_TIMEOUT_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the caller must still cope with losing it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorProcess:
    """One emulator child process. In memory unless `data_dir` is given.

    Keep big objects on disk (`data_dir`): in memory every object stays in the child's RAM.
    """

    def __init__(self, *, host: str = "127.0.0.1", data_dir: Path | None = None) -> None:
        self.host = host
        self.data_dir = data_dir
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorProcess:
        last_error = "not started"
        for _ in range(5):  # a free port can be taken between picking and binding it
            port = free_port(self.host)
            args = [sys.executable, "-m", "gcp_storage_emulator"]
            if self.data_dir is not None:
                args += ["--data-dir", str(self.data_dir)]
            args += ["start", "--host", self.host, "--port", str(port), "--quiet"]
            if self.data_dir is None:
                args.append("--in-memory")
            log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the child)
            proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            self.port = port
            if self._wait_ready(proc):
                self._proc, self._log = proc, log
                return self
            last_error = self._read_log(log)
            proc.kill()
            proc.wait(timeout=_REQUEST_TIMEOUT_S)
            log.close()
        raise RuntimeError(f"the storage emulator did not start: {last_error}")

    @staticmethod
    def _read_log(log: IO[bytes]) -> str:
        log.seek(0)
        return log.read()[-2000:].decode("utf-8", "replace")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                status, _ = self.request("GET", "/")
            except OSError:
                # Not listening yet: a short pause between attempts is all there is to wait on.
                time.sleep(0.02)
                continue
            return status == 200
        return False

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request straight to the emulator (no proxy): status and body."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=_REQUEST_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def create_bucket(self, name: str) -> None:
        body = json.dumps({"name": name}).encode()
        status, answer = self.request(
            "POST", "/storage/v1/b?project=local", body, {"Content-Type": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"cannot create bucket {name}: {status} {answer[:200]!r}")

    def delete_bucket(self, name: str) -> None:
        """Delete every object, then the bucket (keeps the emulator's bookkeeping small)."""
        quoted = urllib.parse.quote(name, safe="")
        status, answer = self.request("GET", f"/storage/v1/b/{quoted}/o")
        if status == 200:
            items: list[dict[str, Any]] = json.loads(answer).get("items") or []
            for item in items:
                obj = urllib.parse.quote(item["name"], safe="")
                self.request("DELETE", f"/storage/v1/b/{quoted}/o/{obj}")
        self.request("DELETE", f"/storage/v1/b/{quoted}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
