#!/usr/bin/env python3
"""Writes the project's signature test vectors into tests/vectors/.

The vectors check every signer of the project (the Rust crate, the four
samples, the playground page), so they must not come from any of them: the
signature string is built here with Python's standard library
(`urllib.parse.unquote_plus` for the form decoding, `sorted` on UTF-8 bytes)
and each signature is made by the `openssl` command line. RSASSA-PKCS1-v1_5
is deterministic, so a run with the committed key reproduces the committed
file exactly; `--check` says whether it does.

    scripts/gen-vectors.py            write tests/vectors/ (keeps an existing key)
    scripts/gen-vectors.py --check    exit 1 if the committed vectors differ
    scripts/gen-vectors.py --new-key  make a new throwaway key pair first

The rules implemented are those of docs/PROTOCOL.md §2 (Signature).
"""

import argparse
import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote_plus

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors"
PRIVATE = "merchant-test.key.pem"
PUBLIC_SPKI = "merchant-test.pub.pem"
PUBLIC_PKCS1 = "merchant-test.pub.pkcs1.pem"
PUBLIC_BARE = "merchant-test.pub.b64"

SEED_BODY = (
    '{\n  "merchantUserNo": "U1000001",\n  "email": "john.doe@example.com",\n'
    '  "firstName": "John",\n  "lastName": "Doe"\n}'
)

# (name, raw query, timestamp, nonce, body): each case pins one rule.
CASES = [
    # The request example of the platform's API page: no query at all.
    ("seed-request-example", "", "1743478725", "a1b2c3", SEED_BODY),
    # The platform's Signature Guide worked example: sorting by key.
    (
        "signature-guide-example",
        "param2=value2&param1=value1",
        "1743478725",
        "a1b2c3",
        '{"key":"value"}',
    ),
    # %XX escapes (multi-byte UTF-8 too) and '+' as a space.
    (
        "percent-and-plus-decoding",
        "q=hello%20world&a=%E4%B8%AD&p=1+2",
        "1743478800",
        "Nonce0042",
        '{"merchantUserNo":"U-7","email":"u7@example.com"}',
    ),
    # An empty body adds nothing to the string.
    ("empty-body", "page=2&size=10", "1743478801", "abcdef", ""),
    # A body with non-ASCII text is signed as its UTF-8 bytes.
    (
        "utf8-body",
        "",
        "1743478802",
        "Zz09Zz09",
        '{"merchantUserNo":"U-8","email":"u8@example.com",'
        '"firstName":"Zoë","lastName":"Müller-Ström 山田"}',
    ),
    # Same key twice sorts by value; a part without '=' has the empty value.
    ("repeated-key-and-bare-key", "b=2&a=2&a=1&flag", "1743478803", "nonce123", "{}"),
    # Empty parts are skipped: "&&", a leading and a trailing '&'.
    ("empty-query-parts", "&x=1&&y=2&", "1743478804", "EmptyParts1", "{}"),
    # Only '&' characters: the sorted parameters are empty.
    ("query-of-separators-only", "&&&", "1743478805", "OnlyAmps", "{}"),
    # Byte order of UTF-8, not of UTF-16 code units: U+1F600 (a surrogate
    # pair, 0xD83D…) sorts before U+FF5E in UTF-16 but after it in UTF-8
    # (F0… > EF…); uppercase sorts before lowercase.
    (
        "unicode-key-byte-order",
        "%F0%9F%98%80=smile&%EF%BD%9E=tilde&B=upper&a=lower",
        "1743478806",
        "Unicode01",
        "{}",
    ),
    # Only the first '=' splits; later ones belong to the value.
    ("equals-in-value", "token=a=b=c&empty=", "1743478807", "Equals01", "{}"),
]


def sorted_params(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&"):
        if part == "":
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    pairs.sort(key=lambda kv: (kv[0].encode("utf-8"), kv[1].encode("utf-8")))
    return "&".join(f"{k}={v}" for k, v in pairs)


def openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["openssl", *args], input=data, check=True, capture_output=True
    ).stdout


def sign(private_pem: Path, message: bytes) -> str:
    signature = openssl("dgst", "-sha256", "-sign", str(private_pem), data=message)
    return base64.b64encode(signature).decode("ascii")


def verify(public_pem: str, message: bytes, signature_b64: str) -> None:
    """Checks a signature with the public half alone, as a merchant's peer would."""
    with tempfile.NamedTemporaryFile() as key, tempfile.NamedTemporaryFile() as sig:
        key.write(public_pem.encode("ascii"))
        key.flush()
        sig.write(base64.b64decode(signature_b64))
        sig.flush()
        openssl("dgst", "-sha256", "-verify", key.name, "-signature", sig.name, data=message)


def make_key(directory: Path) -> None:
    private = directory / PRIVATE
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(private))
    private.chmod(0o600)


def public_forms(directory: Path) -> dict[str, str]:
    private = str(directory / PRIVATE)
    spki = openssl("pkey", "-in", private, "-pubout").decode("ascii")
    pkcs1 = openssl("rsa", "-in", private, "-RSAPublicKey_out").decode("ascii")
    der = openssl("pkey", "-in", private, "-pubout", "-outform", "DER")
    return {
        PUBLIC_SPKI: spki,
        PUBLIC_PKCS1: pkcs1,
        PUBLIC_BARE: base64.b64encode(der).decode("ascii") + "\n",
    }


def vectors(directory: Path) -> dict:
    cases = []
    for name, raw_query, timestamp, nonce, body in CASES:
        string = sorted_params(raw_query) + timestamp + nonce + body
        signature = sign(directory / PRIVATE, string.encode("utf-8"))
        cases.append(
            {
                "name": name,
                "rawQuery": raw_query,
                "timestamp": timestamp,
                "nonce": nonce,
                "body": body,
                "signatureString": string,
                "signature": signature,
            }
        )
    return {
        "algorithm": "RSASSA-PKCS1-v1_5 with SHA-256 (SHA256withRSA), "
        "signature base64 with padding (standard alphabet)",
        "generator": "scripts/gen-vectors.py (Python urllib + openssl)",
        "privateKey": PRIVATE,
        "publicKey": PUBLIC_SPKI,
        "publicKeyPkcs1": PUBLIC_PKCS1,
        "publicKeyBareBase64": PUBLIC_BARE,
        "cases": cases,
    }


def render(directory: Path) -> dict[str, str]:
    files = public_forms(directory)
    data = vectors(directory)
    for case in data["cases"]:
        verify(files[PUBLIC_SPKI], case["signatureString"].encode("utf-8"), case["signature"])
    files["signature-vectors.json"] = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--new-key", action="store_true", help="make a new key pair first")
    args = parser.parse_args()

    if args.check:
        files = render(OUT)
        stale = [n for n, text in files.items() if (OUT / n).read_text(encoding="utf-8") != text]
        if stale:
            print(f"tests/vectors is not what scripts/gen-vectors.py makes: {', '.join(stale)}")
            return 1
        print(f"tests/vectors: {len(CASES)} cases reproduced by Python + openssl")
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    if args.new_key or not (OUT / PRIVATE).exists():
        make_key(OUT)
    for name, text in render(OUT).items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} cases to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
