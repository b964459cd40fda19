"""The local Cloud Tasks: gcloud-tasks-emulator behind our REST front, and a tap on the way out.

    function ──REST──► tasks_front.py ──gRPC──► gcloud-tasks-emulator
                       (its own venv)             │ one task at a time per queue
                                                  ▼
                         TaskTap (here) ──► upload_part (functions-framework)

Point the function at it with `CLOUD_TASKS_EMULATOR_HOST=<LocalTasks.host>`,
`UPLOAD_URL=<TaskTap.url>`. The emulator is a stub: it dispatches one task at a time per queue,
with no rate limit and no name de-duplication, and retries a failed task at once, for ever.
The tap adds what a test needs: `duplicates` (each delivery posted that many times at once),
`concurrency` (per queue: the tap takes the task from the emulator and delivers it itself,
at most that many at once, retrying until a 2xx as Cloud Tasks would; 0 = pass each through
and let the emulator retry), observers called before a delivery (a test's kill hook), the
deliveries made, and `wait_idle()`.
"""

from __future__ import annotations

import collections
import dataclasses
import http.server
import json
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = ROOT / ".venv" / "tasks-emulator" / "bin" / "python"
FRONT = Path(__file__).with_name("tasks_front.py")
#: What a queue path looks like in the local stack; `{account}` as in UPLOAD_QUEUE.
LOCATION = "projects/metrika-offline-test/locations/local"

Observer = Callable[[str, bytes], None]


class LocalTasks:
    """The emulator and its REST front, in one child process."""

    def __init__(self, queues: Iterable[str] = ()) -> None:
        self.queues = list(queues)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> LocalTasks:
        if not EMULATOR_PYTHON.exists():
            raise RuntimeError("gcloud-tasks-emulator is not installed: run make install")
        args = [str(EMULATOR_PYTHON), "-W", "ignore", str(FRONT), "--port", "0"]
        for queue in self.queues:
            args += ["--queue", queue]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode()
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError("the tasks emulator did not start")
        self.port = int(line.split()[1])
        return self

    def add_queue(self, path: str) -> None:
        location, _, _ = path.rpartition("/queues/")
        answer = requests.post(f"{self.url}/v2/{location}/queues", json={"name": path}, timeout=10)
        answer.raise_for_status()

    def waiting(self, path: str) -> int:
        """How many tasks the emulator holds for the queue (queued, scheduled or failed)."""
        answer = requests.get(f"{self.url}/v2/{path}/tasks", timeout=10)
        answer.raise_for_status()
        return len(answer.json()["tasks"])

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> LocalTasks:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclasses.dataclass(frozen=True)
class TaskDelivery:
    queue: str
    task: str
    copy: int
    status: int  # 0: no answer
    body: bytes


class TaskTap(http.server.ThreadingHTTPServer):
    """Where the tasks' URL points: passes each delivery on to `target`."""

    daemon_threads = True

    def __init__(
        self,
        target: str = "",
        *,
        duplicates: int = 1,
        concurrency: int = 0,
        retry_pause_s: float = 0.05,
        max_attempts: int = 400,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target = target
        self.duplicates = duplicates
        self.concurrency = concurrency
        self.retry_pause_s = retry_pause_s
        self.max_attempts = max_attempts
        self.observers: list[Observer] = []
        self.deliveries: list[TaskDelivery] = []
        self.in_flight = 0
        self.most_in_flight: dict[str, int] = collections.Counter()
        self._per_queue: dict[str, int] = collections.Counter()
        self._slots: dict[str, threading.Semaphore] = {}
        self._cond = threading.Condition()
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def start(self) -> TaskTap:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.shutdown()
        self.server_close()

    def __enter__(self) -> TaskTap:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def on_delivery(self, observer: Observer) -> Callable[[], None]:
        self.observers.append(observer)
        return lambda: self.observers.remove(observer)

    def busy(self) -> bool:
        with self._cond:
            return self.in_flight > 0

    def accept(self, queue: str, task: str, body: bytes) -> int:
        """One dispatch from the emulator; the status it is answered with."""
        with self._cond:
            self.in_flight += 1
        if self.concurrency:
            threading.Thread(target=self._own, args=(queue, task, body), daemon=True).start()
            return 200
        try:
            return self._deliver(queue, task, body)
        finally:
            self._done()

    def _own(self, queue: str, task: str, body: bytes) -> None:
        with self._cond:
            slots = self._slots.setdefault(queue, threading.Semaphore(self.concurrency))
        try:
            for _ in range(self.max_attempts):
                with slots:
                    status = self._deliver(queue, task, body)
                if 200 <= status < 300:
                    return
                with self._cond:  # Cloud Tasks' backoff, short (close() ends it)
                    if self._cond.wait_for(lambda: self._closed, self.retry_pause_s):
                        return
        finally:
            self._done()

    def _done(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def _deliver(self, queue: str, task: str, body: bytes) -> int:
        for observer in list(self.observers):
            observer(task, body)
        with self._cond:
            self._per_queue[queue] += 1
            self.most_in_flight[queue] = max(self.most_in_flight[queue], self._per_queue[queue])
        try:
            statuses = [0] * self.duplicates
            threads = [
                threading.Thread(target=self._post, args=(body, statuses, copy))
                for copy in range(self.duplicates)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            with self._cond:
                self._per_queue[queue] -= 1
        with self._cond:
            self.deliveries += [
                TaskDelivery(queue, task, copy, status, body)
                for copy, status in enumerate(statuses)
            ]
        ok = [s for s in statuses if 200 <= s < 300]
        return ok[0] if ok else max(statuses) or 503

    def _post(self, body: bytes, statuses: list[int], copy: int) -> None:
        try:
            answer = requests.post(
                self.target,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=(5.0, 600.0),
            )
            statuses[copy] = answer.status_code
        except requests.RequestException:
            statuses[copy] = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TaskTap

    def log_message(self, *_args: object) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        queue = self.headers.get("X-CloudTasks-QueueName", "")
        task = self.headers.get("X-CloudTasks-TaskName", "")
        status = self.server.accept(urllib.parse.unquote(queue), task, body)
        data = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def wait_until_idle(
    tasks: LocalTasks,
    tap: TaskTap,
    queues: Callable[[], Iterable[str]],
    others_idle: Callable[[float], bool],
    timeout: float,
) -> bool:
    """True once the queues hold nothing, the tap delivers nothing and `others_idle` (the
    storage trigger) says so too, twice in a row (one may have started the other)."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        quiet = others_idle(max(0.0, deadline - time.monotonic()))
        quiet = quiet and not tap.busy() and all(tasks.waiting(q) == 0 for q in queues())
        calm = calm + 1 if quiet else 0
        if calm >= 2:
            return True
        time.sleep(0.05)  # polling the emulator's queues: it tells no one when they empty
    return False


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)  # polling a condition, not waiting out a race
    return False
