#!/usr/bin/env python3
"""A storefront app behind payfac's gateway, in Python with PyJWT.

Every request payfac proxies for a signed-in buyer carries X-Payfac-Identity,
a JWT payfac signs (EdDSA); this app verifies it against payfac's JWKS and
answers who the buyer is. Without the header the buyer is anonymous: the app
decides what needs a buyer.

    pip install "pyjwt[crypto]"
    python3 app.py PORT JWKS_URL [AUDIENCE]

GET any path answers JSON: {"buyer": null} or {"buyer": {claims...}}; a
token that does not verify answers 401.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # PyJWT

port, jwks_url = int(sys.argv[1]), sys.argv[2]
audience = sys.argv[3] if len(sys.argv) > 3 else "payfac-upstream"
# Caches the keys and fetches the JWKS again when a token names an unknown
# kid (after a key rotation).
jwks = jwt.PyJWKClient(jwks_url, cache_keys=True)


def verify(token):
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer="payfac",
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        token = self.headers.get("X-Payfac-Identity")
        status, body = 200, {"buyer": None}
        if token:
            try:
                body = {"buyer": verify(token)}
            except jwt.PyJWTError as error:
                status, body = 401, {"error": type(error).__name__}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
