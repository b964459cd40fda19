"""The local Cloud Storage stack as the demo runs it: a process of its own, and a store built
from the environment the function gets."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from metrika_offline.store.gcs import GcsStore
from tests.fakes.gcs_fixtures import GcsStack, make_client
from tests.integration.conftest import EventSink

REPO = Path(__file__).resolve().parents[3]


def test_from_env_uses_the_emulator_host(gcs_stack: GcsStack) -> None:
    store = GcsStore.from_env(gcs_stack.bucket, environ=gcs_stack.env())
    generation = store.write_bytes("from-env.csv", b"e", if_generation_match=0)
    assert gcs_stack.store.read_bytes("from-env.csv") == (b"e", generation)
    assert store.client.project
    bare = GcsStore.from_env(gcs_stack.bucket, environ={"STORAGE_EMULATOR_HOST": gcs_stack.url[7:]})
    assert bare.read_bytes("from-env.csv") == (b"e", generation)


def read_first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    assert line, "the stack printed no URL"
    return line[0].strip()


def test_the_stack_runs_alone_and_stops_its_emulator(event_sink: EventSink) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.gcs",
            "--bucket",
            "demo",
            "--subscriber",
            event_sink.url,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = read_first_line(proc, timeout=30)
        assert url.startswith("http://127.0.0.1:")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the emulator runs as a child process"
        client = make_client(url)
        client.bucket("demo").blob("incoming/a.csv").upload_from_string(b"a,b\n")
        (received,) = event_sink.wait_for(1)
        assert received.json["name"] == "incoming/a.csv"
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
