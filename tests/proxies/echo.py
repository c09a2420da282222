#!/usr/bin/env python3
"""The storefront app behind the proxy under test, a WSGI app on Python's
wsgiref server: answers every request with JSON of what it received
(method, path and query, headers) and appends the same to a log file, so
the test can check what never reached it.

It reads headers the way every CGI-style stack does (WSGI, PHP, Rack, many
servlet containers): from `HTTP_*` environ keys, where `-` and `_` in a
name are both `_`. A client's `X_Payfac_User_Id` therefore arrives as
`x-payfac-user-id`, merged with payfac's own value; the checks in flow.py
see exactly what such an app would.

    echo.py PORT LOG_FILE
"""
import json
import sys
from socketserver import ThreadingMixIn
from urllib.parse import quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

port, log_path = int(sys.argv[1]), sys.argv[2]


def app(environ, start_response):
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value.split(",") if key != "HTTP_COOKIE" else [value]
    path = quote(environ.get("PATH_INFO", ""), safe="/;=:@!$&'()*+,~")
    query = environ.get("QUERY_STRING", "")
    seen = {
        "method": environ["REQUEST_METHOD"],
        "uri": path + ("?" + query if query else ""),
        "headers": headers,
    }
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps(seen) + "\n")
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


make_server("127.0.0.1", port, app, server_class=Server, handler_class=Quiet).serve_forever()
