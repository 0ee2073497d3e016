#!/usr/bin/env python3
"""Ferry's Signature V4 against botocore's, for the same requests: GET with a range, PUT,
HEAD, DELETE, ListObjectsV2 (with a continuation token), the multipart calls, session
tokens, and keys with spaces, unicode, slashes, '+', '%', '=' and '~'.

usage: sigv4_vs_botocore.py PATH/TO/ferry_sigv4_tool
Prints each mismatch; exits 1 on any. Ends with 'N passed, M failed'.
"""
import datetime
import json
import subprocess
import sys
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

DATE = datetime.datetime(2026, 12, 2, 5, 33, 5)
AMZ_DATE = DATE.strftime("%Y%m%dT%H%M%SZ")
HOST = "127.0.0.1:8333"
BUCKET = "ferry-test"
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
KEYS = ["plain", "dir/sub/leaf.bin", "sp ace", "ünï/cödé", "a+b", "100%", "x=y&z", "t~ilde",
        "dots/../..", "emoji-\U0001F600", "(parens)!*'"]


def encode_path(key):
    return "/" + BUCKET + ("/" + urllib.parse.quote(key, safe="/~") if key else "")


def cases():
    creds = [("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
             ("ASIATEMP", "tmp/secret", "FwoGZXIvYXdzEJr//////////token+=")]
    for ak, sk, tok in creds:
        for key in KEYS:
            yield dict(method="GET", key=key, query=[], headers=[["Range", "bytes=0-4095"]],
                       payload=EMPTY, ak=ak, sk=sk, tok=tok)
            yield dict(method="PUT", key=key, query=[], headers=[], payload="UNSIGNED-PAYLOAD",
                       ak=ak, sk=sk, tok=tok)
            yield dict(method="HEAD", key=key, query=[], headers=[], payload=EMPTY, ak=ak, sk=sk,
                       tok=tok)
            yield dict(method="DELETE", key=key, query=[], headers=[], payload=EMPTY, ak=ak,
                       sk=sk, tok=tok)
            yield dict(method="POST", key=key, query=[["uploads", ""]], headers=[],
                       payload=EMPTY, ak=ak, sk=sk, tok=tok)
            yield dict(method="PUT", key=key,
                       query=[["partNumber", "3"], ["uploadId", "2~AbC+/=x y"]], headers=[],
                       payload="UNSIGNED-PAYLOAD", ak=ak, sk=sk, tok=tok)
            yield dict(method="PUT", key=key, query=[], headers=[["If-None-Match", "*"]],
                       payload="UNSIGNED-PAYLOAD", ak=ak, sk=sk, tok=tok)
        for prefix in ["", "ferry-kv.", "sp ace/ü+%", "a/b/"]:
            yield dict(method="GET", key="", query=[["list-type", "2"], ["prefix", prefix],
                                                    ["max-keys", "1000"],
                                                    ["continuation-token", "tok+en/=="]],
                       headers=[], payload=EMPTY, ak=ak, sk=sk, tok=tok)


def botocore_headers(c):
    url = "http://" + HOST + encode_path(c["key"])
    if c["query"]:
        url += "?" + "&".join(urllib.parse.quote(k, safe="~") + "=" + urllib.parse.quote(v, safe="~")
                              for k, v in c["query"])
    req = AWSRequest(method=c["method"], url=url, headers=dict(c["headers"]))
    # botocore reads the choice from the client's s3 config, as boto3 users set it.
    req.context["client_config"] = Config(
        s3={"payload_signing_enabled": c["payload"] != "UNSIGNED-PAYLOAD"})
    auth = S3SigV4Auth(Credentials(c["ak"], c["sk"], c["tok"] or None), "s3", "us-east-1")
    auth._timestamp = lambda: AMZ_DATE  # noqa: the signer's clock, fixed for comparison

    class FixedDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return DATE

        @classmethod
        def now(cls, tz=None):
            return DATE.replace(tzinfo=tz) if tz else DATE

    import botocore.auth as ba
    saved = ba.datetime.datetime
    ba.datetime.datetime = FixedDatetime
    try:
        auth.add_auth(req)
    finally:
        ba.datetime.datetime = saved
    return req.headers


def main():
    tool = sys.argv[1]
    all_cases = list(cases())
    lines = []
    for c in all_cases:
        lines.append(json.dumps(dict(method=c["method"], host=HOST, path=encode_path(c["key"]),
                                     query=c["query"], headers=c["headers"],
                                     payload_sha256=c["payload"], amz_date=AMZ_DATE,
                                     region="us-east-1", access_key=c["ak"], secret_key=c["sk"],
                                     session_token=c["tok"])))
    out = subprocess.run([tool], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == len(all_cases), (len(out), len(all_cases))
    passed = failed = 0
    for c, line in zip(all_cases, out):
        ours = json.loads(line)
        theirs = botocore_headers(c)
        if ours["Authorization"] == theirs["Authorization"] and ours["X-Amz-Date"] == theirs["X-Amz-Date"]:
            passed += 1
        else:
            failed += 1
            print("MISMATCH %s %r query=%r\n  ferry:    %s\n  botocore: %s"
                  % (c["method"], c["key"], c["query"], ours["Authorization"],
                     theirs["Authorization"]))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
