"""The HTTP plumbing shared by the cloud mocks: a threaded stdlib server on a loopback port 0 that prints its base
URL as the first line of stdout, records every API request, and serves the control endpoints:

- `GET /_mock/requests` → the records, oldest first (JSON list);
- `POST /_mock/reset` → forget the records (and the mock's counters);
- `POST /_mock/config` with a JSON object → merged into the mock's mode settings (see each mock);
- `GET /_mock/stats` → the mock's counters.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class MockState:
    """Records, mode settings and counters, behind one lock."""

    def __init__(self, config):
        self.lock = threading.RLock()
        self.records = []
        self.config = dict(config)
        self.stats = {}

    def record(self, entry):
        with self.lock:
            self.records.append(entry)

    def bump(self, name, by=1):
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + by
            return self.stats[name]

    def setting(self, name, default=None):
        with self.lock:
            return self.config.get(name, default)


class Handler(BaseHTTPRequestHandler):
    """Reads the body, answers the control endpoints, and hands API requests to `self.server.api(self)`."""

    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the Rust test prints stderr only when something fails
        if self.server.verbose:
            sys.stderr.write("mock: " + (fmt % args) + "\n")

    def read_body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def header_list(self):
        return [[k, v] for k, v in self.headers.items()]

    def send_json(self, status, value, headers=()):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, val in headers:
            self.send_header(name, val)
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self, content_type, headers=()):
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("transfer-encoding", "chunked")
        for name, val in headers:
            self.send_header(name, val)
        self.end_headers()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _handle(self):
        self.body = self.read_body()
        state = self.server.state
        if self.path.startswith("/_mock/"):
            what = self.path[len("/_mock/"):].split("?")[0]
            if what == "requests":
                with state.lock:
                    return self.send_json(200, list(state.records))
            if what == "stats":
                with state.lock:
                    return self.send_json(200, dict(state.stats))
            if what == "reset":
                with state.lock:
                    state.records.clear()
                    state.stats.clear()
                return self.send_json(200, {"ok": True})
            if what == "config":
                with state.lock:
                    state.config.update(json.loads(self.body or b"{}"))
                return self.send_json(200, {"ok": True})
            control = getattr(self.server, "control", None)
            if control and control(self, what):
                return None
            return self.send_json(404, {"message": "no such control endpoint"})
        try:
            self.server.api(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client closing an idle keep-alive connection is normal; anything else is printed."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def serve(api, state, verbose=False, on_ready=None, control=None):
    """Serves `api(handler)` on 127.0.0.1:0, calls `on_ready(base_url)`, prints the base URL on stdout, and blocks.
    `control(handler, name)` may answer further `/_mock/<name>` endpoints (returns whether it did)."""
    server = Server(("127.0.0.1", 0), Handler)
    server.api = api
    server.state = state
    server.verbose = verbose
    server.control = control
    url = f"http://127.0.0.1:{server.server_address[1]}"
    if on_ready:
        on_ready(url)
    print(url, flush=True)
    server.serve_forever()
