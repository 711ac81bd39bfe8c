"""A stand-in for the payment provider, served on the port the settings name.

It answers like the provider (charges succeed unless the card token says
otherwise, refunds of known-looking charges succeed) and records every request
it received, so tests can check what the shop sent.
"""

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


# Like the provider's sandbox, which is not instantaneous either.
LATENCY_SECONDS = 0.05


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append({"path": self.path, "key": self.headers.get("Idempotency-Key"), "body": body})
        time.sleep(LATENCY_SECONDS)
        if self.path == "/charges":
            source = str(body.get("source", ""))
            if source == "tok_declined":
                return self._reply(402, {"error": "card declined"})
            # tok_busy_N: the provider is busy for the first N attempts.
            if source.startswith("tok_busy_") and int(self.headers["X-Attempt"]) <= int(source.removeprefix("tok_busy_")):
                return self._reply(503, {"error": "busy, retry later"})
            return self._reply(200, {"id": f"ch_{uuid.uuid4().hex[:16]}", "status": "succeeded", "amount": body["amount"]})
        if self.path == "/refunds":
            if not str(body.get("charge", "")).startswith("ch_"):
                return self._reply(404, {"error": "no such charge"})
            return self._reply(200, {"id": f"re_{uuid.uuid4().hex[:16]}", "status": "succeeded", "amount": body["amount"]})
        self._reply(404, {"error": f"no route {self.path}"})

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Room for bursts of connections while this process is busy elsewhere.
    request_queue_size = 128

    def server_bind(self):
        # Reuse the port so a rerun right after a crash does not fail with
        # "address already in use".
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class GatewayStub:
    def __init__(self, url):
        parts = urlsplit(url)
        self.server = _Server((parts.hostname, parts.port), _Handler)
        self.server.received = []
        self.thread = threading.Thread(target=self.server.serve_forever, name="gateway-stub", daemon=True)

    @property
    def received(self):
        return list(self.server.received)

    def keys(self, path):
        return {r["key"] for r in self.server.received if r["path"] == path}

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
