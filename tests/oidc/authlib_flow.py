#!/usr/bin/env python3
"""payfac's OpenID Provider under Python's authlib: its OAuth2Session
(authorization code flow with PKCE S256, client_secret_basic,
client_secret_post and a public client) and its own JWT and OIDC code
(authlib.jose, authlib.oidc.core.CodeIDToken) checking the ID token against
payfac's JWKS: RS256, and EdDSA for the client registered with
--id-token-alg EdDSA. Then what authlib refuses (a tampered ID token,
another issuer, a state mismatch) and what payfac refuses (a code used
twice, plain PKCE).

The buyer is signed in for real: a signed user-sync (payfac's CLI), then
the merchant's code link opened with a requests.Session (its cookie jar
holds payfac's session) before the authorization request.

Run by tests/oidc/run.sh, which sets the environment. Prints one line per
check ("ok …" or "FAIL …"); exits with the number of failed checks.
"""
import base64
import json
import os
import secrets
import subprocess
import sys
import warnings
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    # authlib.jose is authlib's own JWT code (kept until authlib 2.0).
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import BadSignatureError, InvalidClaimError, JoseError
    from authlib.oidc.core import CodeIDToken
# authlib's OIDC claim checks raise joserfc's errors (authlib's JWT
# backend since 1.7), its older JOSE code its own.
try:
    from joserfc.errors import InvalidClaimError as ClaimError
except ImportError:  # an authlib before joserfc
    ClaimError = InvalidClaimError

ISSUER = os.environ["OIDC_ISSUER"]
PAYFAC = os.environ["PAYFAC_BIN"]
MERCHANT = os.environ["OIDC_MERCHANT"]
MERCHANT_KEY = os.environ["OIDC_MERCHANT_KEY"]
CALLBACK = os.environ["OIDC_CALLBACK"]
with open(os.environ["OIDC_CLIENTS"], encoding="utf-8") as file:
    CLIENTS = json.load(file)
SCOPE = "openid profile email"
failures = 0


def check(what, ok, detail=""):
    global failures
    if ok:
        print(f"ok   authlib: {what}")
    else:
        failures += 1
        print(f"FAIL authlib: {what} {detail}", file=sys.stderr)


def expect_error(what, call, *errors):
    """`call` must raise one of `errors`."""
    try:
        result = call()
    except errors as error:
        check(what, True)
        return error
    except Exception as error:  # noqa: BLE001
        check(what, False, f"raised {error!r} instead")
        return error
    check(what, False, f"no error: {result!r}")
    return None


METADATA = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
JWKS = JsonWebKey.import_key_set(requests.get(METADATA["jwks_uri"], timeout=10).json())


def signed_in_buyer(prefix):
    """A new buyer, signed in on payfac in a fresh cookie jar."""
    user_no = f"{prefix}{os.getpid()}-{secrets.token_hex(3)}"
    email = f"{user_no.lower()}@example.com"
    answer = subprocess.run(
        [PAYFAC, "user-sync", "--url", ISSUER, "--merchant", MERCHANT, "--key", MERCHANT_KEY,
         "--merchant-user-no", user_no, "--email", email, "--first-name", "Zoë", "--last-name", "Doe"],
        check=True, capture_output=True, text=True,
    )
    data = json.loads(answer.stdout)["data"]
    browser = requests.Session()
    link = browser.get(ISSUER + "/", params={"authorizationCode": data["authorizationCode"]},
                       allow_redirects=False, timeout=10)
    if link.status_code != 303 or "payfac_session" not in browser.cookies:
        raise RuntimeError(f"the code link answered {link.status_code} without a session")
    return {"userId": str(data["userId"]), "userNo": user_no, "email": email, "browser": browser}


def session_for(name, auth="client_secret_basic"):
    registered = CLIENTS[name]
    return OAuth2Session(
        registered["clientId"], registered.get("clientSecret"), scope=SCOPE,
        redirect_uri=CALLBACK, token_endpoint_auth_method=auth, code_challenge_method="S256",
    )


def authorize(buyer, oauth, **params):
    """The authorization request in the buyer's browser: the redirect back
    (a URL), the state and nonce sent, and the PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = oauth.create_authorization_url(
        METADATA["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **params)
    answer = buyer["browser"].get(url, allow_redirects=False, timeout=10)
    location = answer.headers.get("Location", "")
    if answer.status_code not in (302, 303) or not location.startswith(CALLBACK + "?"):
        raise RuntimeError(f"authorize answered {answer.status_code} {location!r}")
    return location, state, nonce, verifier


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def id_token_claims(token, nonce, client_id, issuer=ISSUER):
    """authlib's own ID token check: signature against the JWKS, then iss,
    aud, exp, iat, nonce (CodeIDToken)."""
    claims = jwt.decode(
        token, JWKS, claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": issuer}},
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    claims.validate()
    return claims


def header(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def flow(name, auth, prefix):
    buyer = signed_in_buyer(prefix)
    oauth = session_for(name, auth)
    location, state, nonce, verifier = authorize(buyer, oauth)
    response = query(location)
    check(f"{name}/{auth}: the response carries state and iss",
          response.get("state") == state and response.get("iss") == ISSUER, response)
    token = oauth.fetch_token(METADATA["token_endpoint"], authorization_response=location,
                              code_verifier=verifier)
    claims = id_token_claims(token["id_token"], nonce, CLIENTS[name]["clientId"])
    check(f"{name}/{auth}: the ID token verifies; sub is the buyer's userId",
          claims["sub"] == buyer["userId"], claims)
    check(f"{name}/{auth}: merchant, merchant_user_no, email claims",
          claims.get("merchant") == MERCHANT and claims.get("merchant_user_no") == buyer["userNo"]
          and claims.get("email") == buyer["email"], claims)
    userinfo = oauth.get(METADATA["userinfo_endpoint"], timeout=10)
    check(f"{name}/{auth}: userinfo answers the same buyer",
          userinfo.status_code == 200 and userinfo.json().get("sub") == buyer["userId"]
          and userinfo.json().get("email") == buyer["email"], userinfo.text)
    return buyer, oauth, token, location, verifier, nonce


def main():
    _, _, token, _, _, _ = flow("confidential", "client_secret_basic", "ALB")
    check("RS256 by default", header(token["id_token"])["alg"] == "RS256", header(token["id_token"]))
    flow("confidential", "client_secret_post", "ALP")
    flow("public", "none", "ALN")
    _, _, token, _, _, _ = flow("eddsa", "client_secret_basic", "ALE")
    check("EdDSA for the client registered with --id-token-alg EdDSA",
          header(token["id_token"])["alg"] == "EdDSA", header(token["id_token"]))

    # What authlib refuses.
    buyer, oauth, token, location, verifier, nonce = flow("confidential", "client_secret_basic", "ALT")
    client_id = CLIENTS["confidential"]["clientId"]
    h, p, s = token["id_token"].split(".")
    signature = bytearray(base64.urlsafe_b64decode(s + "=="))
    signature[0] ^= 1
    tampered = ".".join([h, p, base64.urlsafe_b64encode(bytes(signature)).rstrip(b"=").decode()])
    expect_error("a tampered ID token signature is refused",
                 lambda: id_token_claims(tampered, nonce, client_id), BadSignatureError)
    changed = json.loads(base64.urlsafe_b64decode(p + "=="))
    changed["sub"] = "1"
    forged = ".".join([h, base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode(), s])
    expect_error("an ID token with changed claims is refused",
                 lambda: id_token_claims(forged, nonce, client_id), BadSignatureError)
    expect_error("an ID token from another issuer than expected is refused",
                 lambda: id_token_claims(token["id_token"], nonce, client_id, issuer="http://127.0.0.1:1"),
                 InvalidClaimError, ClaimError)
    expect_error("an ID token for another client is refused",
                 lambda: id_token_claims(token["id_token"], nonce, CLIENTS["other"]["clientId"]),
                 InvalidClaimError, ClaimError)
    expect_error("an ID token with another nonce is refused",
                 lambda: id_token_claims(token["id_token"], "other-nonce", client_id),
                 InvalidClaimError, ClaimError)

    # A state mismatch: authlib refuses the response before sending the code.
    oauth = session_for("confidential")
    location, _, _, verifier = authorize(buyer, oauth)
    expect_error("a state mismatch is refused",
                 lambda: oauth.fetch_token(METADATA["token_endpoint"], authorization_response=location,
                                           code_verifier=verifier, state="not-the-state"),
                 AuthlibBaseError)
    # The same code, with the right state, still works once, then never again.
    oauth.fetch_token(METADATA["token_endpoint"], authorization_response=location, code_verifier=verifier)
    first_access = oauth.token["access_token"]
    error = expect_error("a code used twice is refused",
                         lambda: oauth.fetch_token(METADATA["token_endpoint"], authorization_response=location,
                                                   code_verifier=verifier),
                         AuthlibBaseError)
    check("with invalid_grant", getattr(error, "error", None) == "invalid_grant", repr(error))
    revoked = requests.get(METADATA["userinfo_endpoint"], timeout=10,
                           headers={"Authorization": f"Bearer {first_access}"})
    check("and the access token of the first use stops working", revoked.status_code == 401, revoked.status_code)

    # Plain PKCE (authlib itself only makes S256 challenges: the request
    # names plain as extra parameters).
    plain = OAuth2Session(CLIENTS["confidential"]["clientId"], CLIENTS["confidential"]["clientSecret"],
                          scope=SCOPE, redirect_uri=CALLBACK)
    location, state, _, _ = authorize(buyer, plain, code_challenge="p" * 43, code_challenge_method="plain")
    response = query(location)
    check("plain PKCE is refused: invalid_request, no code, state and iss",
          response.get("error") == "invalid_request" and "code" not in response
          and response.get("state") == state and response.get("iss") == ISSUER, response)
    expect_error("and authlib reports the provider's error",
                 lambda: plain.fetch_token(METADATA["token_endpoint"], authorization_response=location),
                 AuthlibBaseError, JoseError)


if __name__ == "__main__":
    main()
    sys.exit(failures)
