#!/usr/bin/env python3
"""payfac merchant-side signing sample (Python 3.11 stdlib + `cryptography`).

Usage:
  python3 payfac_sign.py vectors VECTORS_JSON_PATH
  python3 payfac_sign.py call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL

The private key must be PKCS#8 PEM ("BEGIN PRIVATE KEY"). Convert a PKCS#1
key ("BEGIN RSA PRIVATE KEY") with:
  openssl pkcs8 -topk8 -nocrypt -in merchant.rsa.pem -out merchant.key.pem
"""
import base64
import json
import secrets
import string
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote_plus

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def sorted_params(raw_query: str) -> str:
    """docs/PROTOCOL.md §2: split on '&' (skip empty parts), split at the first '=',
    form-urlencoded-decode key and value ('+' is a space), sort by key then
    value (Python str order = code point order = UTF-8 byte order)."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def signature_string(raw_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    # No separators. The body is appended as the exact bytes that are sent.
    return (sorted_params(raw_query) + timestamp + nonce).encode("utf-8") + body


def load_private_key(path):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def sign(private_key, data: bytes) -> str:
    raw = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")  # standard alphabet, padded


def cmd_vectors(path: str) -> int:
    path = Path(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    private_key = load_private_key(path.parent / doc["privateKey"])
    public_key = serialization.load_pem_public_key((path.parent / doc["publicKey"]).read_bytes())
    failed = 0
    for case in doc["cases"]:
        name = case["name"]
        data = signature_string(case["rawQuery"], case["timestamp"], case["nonce"],
                                case["body"].encode("utf-8"))
        why = None
        if data.decode("utf-8") != case["signatureString"]:
            why = f"signature string {data.decode('utf-8')!r} != {case['signatureString']!r}"
        elif (sig := sign(private_key, data)) != case["signature"]:
            why = f"signature {sig} != expected"
        else:
            try:
                public_key.verify(base64.b64decode(sig), data, padding.PKCS1v15(), hashes.SHA256())
            except Exception as e:  # InvalidSignature
                why = f"public key does not verify: {e!r}"
        if why:
            failed += 1
            print(f"FAIL {name}: {why}")
        else:
            print(f"ok {name}")
    return 1 if failed else 0


def cmd_call(base_url, merchant_id, key_path, merchant_user_no, email) -> int:
    private_key = load_private_key(key_path)
    # Serialize the body ONCE; sign and send these very bytes.
    body = json.dumps({"merchantUserNo": merchant_user_no, "email": email},
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    timestamp = str(int(time.time()))  # seconds, not milliseconds
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
    signature = sign(private_key, signature_string("", timestamp, nonce, body))
    req = urllib.request.Request(
        f"{base_url.rstrip('/')}/pay-fac/{merchant_id}/v1/user", data=body, method="POST",
        headers={"Content-Type": "application/json", "timestamp": timestamp,
                 "nonce": nonce, "signature": signature})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:  # 4xx/5xx still carry the JSON envelope
        text = e.read().decode("utf-8")
    print(text)
    try:
        return 0 if json.loads(text).get("code") == "0000" else 1
    except (ValueError, AttributeError):
        return 1


def main(argv) -> int:
    if len(argv) == 2 and argv[0] == "vectors":
        return cmd_vectors(argv[1])
    if len(argv) == 6 and argv[0] == "call":
        return cmd_call(*argv[1:])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
