#!/usr/bin/env python3
"""The storefront app behind the proxy under test: answers every request
with JSON of what it received (method, path and query, headers) and
appends the same to a log file, so the test can check what never reached
it.

    echo.py PORT LOG_FILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log_path = int(sys.argv[1]), sys.argv[2]


class Echo(BaseHTTPRequestHandler):
    def answer(self):
        headers = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        seen = {"method": self.command, "uri": self.path, "headers": headers}
        body = json.dumps(seen).encode()
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(seen) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = answer

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever()
