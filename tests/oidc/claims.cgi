#!/usr/bin/env python3
"""The app behind mod_auth_openidc (tests/oidc/httpd.conf): a page that
shows the claims the module handed it (OIDC_CLAIM_* variables) and the
REMOTE_USER it set, as JSON inside <pre id="claims">."""
import html
import json
import os

claims = {k[len("OIDC_CLAIM_"):]: v for k, v in os.environ.items() if k.startswith("OIDC_CLAIM_")}
body = json.dumps({"remoteUser": os.environ.get("REMOTE_USER"), "claims": claims}, sort_keys=True)
print("Content-Type: text/html; charset=utf-8")
print("Cache-Control: no-store")
print()
print(f'<!doctype html><title>claims</title><pre id="claims">{html.escape(body)}</pre>')
