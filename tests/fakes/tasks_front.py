"""gcloud-tasks-emulator with the REST face our code speaks. Run by the emulator's own Python
(`.venv/tasks-emulator`, see the Makefile), never imported by the tests:

    python tests/fakes/tasks_front.py --port 0 [--queue projects/P/locations/L/queues/Q ...]

prints `ready <rest port>` and serves until stdin closes. The emulator speaks gRPC only and our
code calls Cloud Tasks' REST API (flow/queue.py, metrika_offline/tasks): this front takes

    POST /v2/{queue}/tasks      {"task": {...}}   -> CreateTask on the emulator
    POST /v2/{location}/queues  {"name": ...}     -> CreateQueue
    GET  /v2/{queue}/tasks                        -> ListTasks (how many wait)

and passes each on over gRPC, adding nothing: the emulator runs one task at a time per queue,
without rate limits or name de-duplication, and nothing may depend on what it lacks.
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import socket
import sys
import threading

import grpc
from gcloud_tasks_emulator.server import create_server
from google.api_core.exceptions import GoogleAPICallError
from google.cloud.tasks_v2 import CloudTasksClient, Queue, Task
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Front(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, client: CloudTasksClient) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.client = client


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Front

    def log_message(self, *_args: object) -> None:
        return

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.removeprefix("/v2/")
        try:
            if path.endswith("/tasks"):
                task = Task.from_json(json.dumps(body["task"]), ignore_unknown_fields=True)
                made = self.server.client.create_task(parent=path[: -len("/tasks")], task=task)
                return self._reply(200, json.loads(Task.to_json(made)))
            if path.endswith("/queues"):
                queue = Queue(name=body["name"])
                made = self.server.client.create_queue(parent=path[: -len("/queues")], queue=queue)
                return self._reply(200, json.loads(Queue.to_json(made)))
        except GoogleAPICallError as exc:
            return self._reply(exc.code or 500, {"error": {"message": str(exc)}})
        return self._reply(404, {"error": {"message": f"not here: {self.path}"}})

    def do_GET(self) -> None:
        path = self.path.removeprefix("/v2/")
        if not path.endswith("/tasks"):
            return self._reply(404, {"error": {"message": f"not here: {self.path}"}})
        try:
            found = self.server.client.list_tasks(parent=path[: -len("/tasks")])
        except GoogleAPICallError as exc:
            return self._reply(exc.code or 500, {"error": {"message": str(exc)}})
        return self._reply(200, {"tasks": [t.name for t in found.tasks]})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--queue", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    grpc_port = free_port()
    emulator = create_server("127.0.0.1", grpc_port, default_queue_names=args.queue)
    emulator.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    client = CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    front = Front(args.port, client)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    print(f"ready {front.server_address[1]}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    front.shutdown()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
