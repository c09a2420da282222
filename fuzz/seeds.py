#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs, made from the project's signature
vectors (tests/vectors/), into CORPUS/<target>/ (default fuzz/corpus).

Each target reads its input as documented at the top of its file in
fuzz_targets/: fields separated by NUL bytes, the last one the rest.
Re-running rewrites the same files; libFuzzer adds its own beside them.
"""

import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = HERE.parent / "tests" / "vectors"
ROUTE = b"/pay-fac/MERCHANT001/v1/user"


def main() -> None:
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus"
    spec = json.loads((VECTORS / "signature-vectors.json").read_text())
    cases = spec["cases"]
    seeds: dict[str, list[bytes]] = {name: [] for name in (
        "signature_string", "signing_headers", "profile_body",
        "public_key", "credentials", "http_user_sync")}

    for case in cases:
        query = case["rawQuery"].encode()
        ts = case["timestamp"].encode()
        nonce = case["nonce"].encode()
        body = case["body"].encode()
        sig = case["signature"].encode()
        seeds["signature_string"].append(b"\0".join([query, ts, nonce, body]))
        seeds["signing_headers"] += [ts, nonce, sig, sig.rstrip(b"=")]
        seeds["profile_body"].append(b"application/json\0" + body)
        # Signed by the harness, now: reaches the store.
        signed = bytes([0b1_1000]) + b"\0".join(
            [b"", query, ts, nonce, b"", b"application/json", b"", body])
        # As in the vector, with the vector's own signature: refused for
        # its old timestamp, exercises the whole check up to the window.
        as_is = bytes([0]) + b"\0".join(
            [ROUTE, query, ts, nonce, sig, b"application/json", b"", body])
        seeds["http_user_sync"] += [signed, as_is]

    seeds["profile_body"] += [
        b"application/json; charset=utf-8\0{\"merchantUserNo\":\"U1\",\"email\":\"a@b.co\",\"firstName\":null}",
        b"text/plain\0[]",
    ]
    for name in ("merchant-test.pub.pem", "merchant-test.pub.pkcs1.pem",
                 "merchant-test.pub.b64", "merchant-test.key.pem"):
        seeds["public_key"].append((VECTORS / name).read_bytes())
    code = b"0000000001" + b"abcdefghijklmnopqrstuv"
    token = b"000000000A" + b"abcdefghijklmnopqrstuvwxyz0123456"
    seeds["credentials"] += [code, token, b"payfac_session=" + token,
                             b"a=b; payfac_session=" + token + b"; c=d"]
    seeds["http_user_sync"] += [
        bytes([1]) + b"/?authorizationCode=" + code,
        bytes([1]) + b"/account\0\0\0\0\0\0cookie: payfac_session=" + token,
        bytes([1]) + b"/healthz",
        bytes([0]) + b"/pay-fac/NOPE/v1/user",
    ]

    for target, inputs in seeds.items():
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            name = "seed-" + hashlib.sha1(data).hexdigest()
            (folder / name).write_bytes(data)


if __name__ == "__main__":
    main()
