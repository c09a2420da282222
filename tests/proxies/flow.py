#!/usr/bin/env python3
"""The whole forward-auth flow through one proxy (nginx or Caddy) in front
of echo.py, with payfac behind /_payfac/auth:

merchant user-sync -> the browser's request with the code through the
proxy -> 303 to the clean URL with the session cookie -> the app sees the
buyer's headers and a JWT that verifies against payfac's JWKS -> logout ->
the app sees no identity. Spoofed X-Payfac-* headers, payfac's cookies and
the code never reach the app.

    flow.py NAME PROXY_URL PAYFAC_URL PAYFAC_BIN MERCHANT KEY_PEM ECHO_LOG

NAME is nginx, caddy or gateway (payfac itself in front of the app, where
PROXY_URL and PAYFAC_URL are the same).

Prints one line per check; exits with the number of failed checks.
"""
import json
import subprocess
import sys
import urllib.error
import urllib.request

import jwt

name, proxy, payfac, payfac_bin, merchant, key_pem, echo_log = sys.argv[1:8]
IDENTITY = [
    "x-payfac-user-id",
    "x-payfac-merchant",
    "x-payfac-merchant-user-no",
    "x-payfac-email",
    "x-payfac-first-name",
    "x-payfac-last-name",
    "x-payfac-identity",
]
SPOOFED = {
    "X-Payfac-User-Id": "1",
    "X-Payfac-Merchant-User-No": "ADMIN",
    "X-Payfac-Email": "admin@example.com",
    "X-Payfac-Identity": "forged",
}
failures = 0


def check(what, ok, detail=""):
    global failures
    if ok:
        print(f"ok   {name}: {what}")
    else:
        failures += 1
        print(f"FAIL {name}: {what} {detail}", file=sys.stderr)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


opener = urllib.request.build_opener(NoRedirect)


def request(method, url, headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        response = opener.open(req, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    return response.status, response.headers, response.read()


def echoed(path, headers=None):
    status, _, body = request("GET", proxy + path, headers)
    if status != 200:
        return status, {}
    return status, json.loads(body)["headers"]


def one(seen, header):
    values = seen.get(header) or []
    return values[0] if len(values) == 1 else None


def session_of(headers):
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("payfac_session="):
            return value.split(";")[0].split("=", 1)[1]
    return None


def user_sync(merchant_user_no, email):
    return json.loads(
        subprocess.run(
            [payfac_bin, "user-sync", "--url", payfac, "--merchant", merchant, "--key", key_pem,
             "--merchant-user-no", merchant_user_no, "--email", email,
             "--first-name", "Zoë", "--last-name", "Doe"],
            check=True, capture_output=True, text=True,
        ).stdout
    )


envelope = user_sync(f"U-{name}", f"{name}@example.com")
code = envelope["data"]["authorizationCode"]
user_id = str(envelope["data"]["userId"])

# The link from the merchant: the code is redeemed, the browser sent on.
status, headers, _ = request(
    "GET", f"{proxy}/welcome?ref=mail&authorizationCode={code}&lang=en", SPOOFED
)
check("the code answers 303", status == 303, status)
check("to the clean URL", headers.get("Location") == "/welcome?ref=mail&lang=en",
      headers.get("Location"))
check("with Referrer-Policy: no-referrer", headers.get("Referrer-Policy") == "no-referrer")
check("with Cache-Control: no-store", headers.get("Cache-Control") == "no-store")
session = session_of(headers)
check("with the session cookie", session is not None)
cookie = f"theme=dark; payfac_session={session}; lang=en"

# Signed in: the app sees the buyer, whatever the client claims.
status, seen = echoed("/welcome?ref=mail&lang=en", {**SPOOFED, "Cookie": cookie})
check("signed in, the app answers", status == 200, status)
check("the app sees the buyer's user id", one(seen, "x-payfac-user-id") == user_id, seen)
check("and merchant user no", one(seen, "x-payfac-merchant-user-no") == f"U-{name}", seen)
check("and email", one(seen, "x-payfac-email") == f"{name}@example.com", seen)
token = one(seen, "x-payfac-identity")
try:
    jwks = json.loads(request("GET", f"{payfac}/.well-known/jwks.json")[2])
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"],
        audience="payfac-upstream", issuer="payfac",
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    check("the JWT verifies against the JWKS, for the buyer", claims["sub"] == user_id, claims)
except Exception as error:  # noqa: BLE001
    check("the JWT verifies against the JWKS", False, repr(error))
check("the app gets the other cookies", "theme=dark" in (one(seen, "cookie") or ""), seen)
check("but not payfac's", "payfac_" not in json.dumps(seen.get("cookie")), seen.get("cookie"))

# A CGI-style app reads X_Payfac_User_Id as X-Payfac-User-Id: the spelling
# with underscores never reaches it (removed, or the request refused).
status, seen = echoed("/welcome", {"X_Payfac_User_Id": "4242", "Cookie": cookie})
check("an underscore-spelled identity header never reaches the app",
      status == 403 or (status == 200 and one(seen, "x-payfac-user-id") == user_id), (status, seen))
status, seen = echoed("/welcome", {"X_Payfac_User_Id": "4242", "X_PAYFAC_EMAIL": "a@b"})
check("nor for an anonymous client",
      status == 403 or (status == 200 and not [h for h in seen if h.startswith("x-payfac-")]),
      (status, seen))

if name != "gateway":
    # Buyers-only pages (--require-session-prefix /account); the gateway
    # has no such prefixes.
    status, seen = echoed("/account", {"Cookie": cookie})
    check("signed in, /account passes", status == 200 and one(seen, "x-payfac-user-id") == user_id)
    status, _ = echoed("/account")
    check("signed out, /account answers 401", status == 401, status)
    status, _ = echoed("/public/../account")
    check("and /public/../account too", status in (401, 400, 404), status)
    for path in ["/ACCOUNT/orders", "/account;x=1", "/public/..;/account"]:
        status, _ = echoed(path)
        check(f"and {path} too", status in (401, 400, 404), status)
    # The client's own description of the request does not decide which
    # path is checked.
    status, seen = echoed("/account/orders", {"X-Forwarded-Uri": "/"})
    check("a client's X-Forwarded-Uri does not open /account/orders",
          status in (401, 403), (status, seen))

# Signed out, spoofed headers: nothing under X-Payfac-* arrives.
status, seen = echoed("/welcome", SPOOFED)
check("anonymous, the public page passes", status == 200, status)
spoofed = [h for h in seen if h in IDENTITY]
check("no spoofed identity header reaches the app", not spoofed, spoofed)

# A name payfac never issues: the proxy cannot overwrite it (nginx) or
# strips it (Caddy); either way it never arrives.
status, seen = echoed("/welcome", {"X-Payfac-Role": "admin", "Cookie": cookie})
check("an unknown X-Payfac-* header never reaches the app",
      status == 403 or (status == 200 and "x-payfac-role" not in seen), (status, seen))

# Only a GET is a sign-in; another method with a code is the app's.
status, _, body = request("POST", f"{proxy}/form?authorizationCode=not-a-code")
check("a POST with a code in its query reaches the app",
      status == 200 and json.loads(body)["method"] == "POST", status)

# A code spent is spent.
status, headers, _ = request("GET", f"{proxy}/again?authorizationCode={code}")
check("a used code still answers 303", status == 303 and headers.get("Location") == "/again", status)
check("but signs nobody in", session_of(headers) is None)

# Another buyer's code on this browser: payfac's consent page, reached
# through the proxy's /_payfac/ route.
other = user_sync(f"V-{name}", f"v-{name}@example.com")["data"]["authorizationCode"]
status, headers, _ = request("GET", f"{proxy}/welcome?authorizationCode={other}", {"Cookie": cookie})
location = headers.get("Location") or ""
check("another buyer's code asks for consent",
      status == 303 and location.startswith("/_payfac/sign-in/confirm"), (status, location))
pending = [v.split(";")[0] for v in headers.get_all("Set-Cookie") or []]
status, headers, _ = request("GET", proxy + location, {"Cookie": "; ".join([cookie, *pending])})
check("the consent page is served through the proxy",
      status == 200 and (headers.get("Content-Type") or "").startswith("text/html"), status)

# Logout through the proxy ends the session for the app too.
status, _, _ = request("POST", f"{proxy}/_payfac/logout", {"Cookie": cookie})
check("logout answers 303", status == 303, status)
status, seen = echoed("/welcome", {"Cookie": cookie})
check("after logout the app sees no identity",
      status == 200 and not [h for h in seen if h.startswith("x-payfac-")], seen)

with open(echo_log, encoding="utf-8") as log:
    everything = log.read()
check("the code never reached the app", code not in everything)
check("nor the session cookie", session and session not in everything)
check("nor a forged token", "forged" not in everything)
sys.exit(failures)
