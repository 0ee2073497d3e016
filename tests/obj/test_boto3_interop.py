"""Interop with boto3 on the same S3 server: objects Ferry's OBJ backend writes are read back
byte-exact by boto3, and objects boto3 writes (plain and multipart) are read by Ferry whole
and in ranges. Run by ctest (obj.boto3_interop) with the fixture's server in FERRY_S3_STATE.
"""
import os
import uuid

import boto3
import numpy as np
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

import ferry


def load_env():
    state = os.environ.get("FERRY_S3_STATE")
    if not state or not os.path.exists(os.path.join(state, "env")):
        pytest.fail("no S3 server: run through ctest (its fixture starts one)")
    env = {}
    for line in open(os.path.join(state, "env")):
        k, _, v = line.strip().partition("=")
        env[k] = v.strip("'")
    return env


@pytest.fixture(scope="module")
def s3env():
    return load_env()


@pytest.fixture(scope="module")
def s3(s3env):
    return boto3.client("s3", endpoint_url=s3env["FERRY_S3_ENDPOINT"],
                        aws_access_key_id=s3env["FERRY_S3_ACCESS_KEY"],
                        aws_secret_access_key=s3env["FERRY_S3_SECRET_KEY"],
                        region_name=s3env["FERRY_S3_REGION"], config=Config(retries={"max_attempts": 2}))


@pytest.fixture
def obj(s3env):
    a = ferry.Agent("interop-" + uuid.uuid4().hex[:8])
    a.obj = a.create_backend("OBJ", {
        "endpoint_override": s3env["FERRY_S3_ENDPOINT"], "access_key": s3env["FERRY_S3_ACCESS_KEY"],
        "secret_key": s3env["FERRY_S3_SECRET_KEY"], "bucket": s3env["FERRY_S3_BUCKET"],
        "region": s3env["FERRY_S3_REGION"], "multipart_threshold": "5M", "part_size": "5M"})
    return a


def move(agent, op, key, buf, offset=0):
    agent.register_memory(buf)
    h = agent.register_memory([(0, 0, 1, key)], "OBJ")
    x = agent.transfer(op, buf, [(offset, buf.nbytes, 1)], target_kind="OBJ")
    x.post()
    x.wait(60)
    x.release()
    agent.deregister(h)


def rand(n, seed):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)


@pytest.mark.parametrize("size", [1, 4096, 1 << 20, (17 << 20) + 3])
def test_ferry_writes_boto3_reads(obj, s3, s3env, size):
    key = "interop/ferry-wrote/%d" % size
    data = rand(size, size)
    move(obj, "WRITE", key, data)
    got = s3.get_object(Bucket=s3env["FERRY_S3_BUCKET"], Key=key)["Body"].read()
    assert got == data.tobytes()
    head = s3.head_object(Bucket=s3env["FERRY_S3_BUCKET"], Key=key)
    (q,) = obj.query([key], "OBJ", obj.obj)
    assert q["size"] == size and q["etag"] == head["ETag"]


@pytest.mark.parametrize("multipart", [False, True])
def test_boto3_writes_ferry_reads_whole_and_ranged(obj, s3, s3env, multipart):
    key = "interop/boto3-wrote/%s/ü n+i%%code" % ("multi" if multipart else "plain")
    data = rand((13 << 20) + 77 if multipart else 300000, 5)
    bucket = s3env["FERRY_S3_BUCKET"]
    if multipart:
        import io
        s3.upload_fileobj(io.BytesIO(data.tobytes()), bucket, key,
                          Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
        assert "-" in s3.head_object(Bucket=bucket, Key=key)["ETag"], "boto3 did a multipart upload"
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=data.tobytes())
    whole = np.zeros_like(data)
    move(obj, "READ", key, whole)
    assert np.array_equal(whole, data)
    part = np.zeros(123457, dtype=np.uint8)
    move(obj, "READ", key, part, offset=99999)
    assert np.array_equal(part, data[99999:99999 + part.size])
    assert key in [e["name"] for e in obj.list("interop/boto3-wrote/", "OBJ", obj.obj)]


def test_ferry_remove_is_seen_by_boto3(obj, s3, s3env):
    key = "interop/remove/me"
    s3.put_object(Bucket=s3env["FERRY_S3_BUCKET"], Key=key, Body=b"x")
    obj.remove([key], "OBJ", obj.obj)
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=s3env["FERRY_S3_BUCKET"], Key=key)
    assert obj.query([key], "OBJ", obj.obj) == [None]


def test_wrong_secret_raises_permission_error(s3env):
    a = ferry.Agent("interop-bad")
    be = a.create_backend("OBJ", {"endpoint_override": s3env["FERRY_S3_ENDPOINT"],
                                  "access_key": s3env["FERRY_S3_ACCESS_KEY"],
                                  "secret_key": "nope-not-it", "bucket": s3env["FERRY_S3_BUCKET"]})
    with pytest.raises(ferry.Error) as e:
        a.list("interop/", "OBJ", be)
    assert "SignatureDoesNotMatch" in str(e.value) and "nope-not-it" not in str(e.value)


def test_nixl_api_obj_flow_reads_what_boto3_wrote_and_writes_what_it_reads(s3, s3env):
    """NIXL's OBJ usage through Ferry's nixl layer: an OBJ backend with NIXL's parameter
    names, OBJ_SEG registered by key (devId), WRITE then READ."""
    from ferry.nixl._api import nixl_agent, nixl_agent_config

    agent = nixl_agent("obj_flow", nixl_agent_config(backends=[]))
    agent.create_backend("OBJ", {"endpoint_override": s3env["FERRY_S3_ENDPOINT"],
                                 "access_key": s3env["FERRY_S3_ACCESS_KEY"],
                                 "secret_key": s3env["FERRY_S3_SECRET_KEY"],
                                 "bucket": s3env["FERRY_S3_BUCKET"], "scheme": "http"})
    data = rand(1 << 20, 42)
    back = np.zeros_like(data)
    agent.register_memory(data)
    agent.register_memory(back)
    objs = agent.register_memory([(0, data.nbytes, 11, "interop/nixl/obj-a")], "OBJ")
    h = agent.initialize_xfer("WRITE", agent.get_xfer_descs(data), objs.trim(), "obj_flow")
    state = agent.transfer(h)
    while state not in ("DONE", "ERR"):
        state = agent.check_xfer_state(h)
    assert state == "DONE"
    got = s3.get_object(Bucket=s3env["FERRY_S3_BUCKET"], Key="interop/nixl/obj-a")["Body"].read()
    assert got == data.tobytes()
    h = agent.initialize_xfer("READ", agent.get_xfer_descs(back), objs.trim(), "obj_flow")
    state = agent.transfer(h)
    while state not in ("DONE", "ERR"):
        state = agent.check_xfer_state(h)
    assert state == "DONE" and np.array_equal(back, data)


def test_nixl_api_query_memory_keeps_object_keys_whole(s3, s3env):
    """LMCache asks whether chunks exist with query_memory on OBJ keys; keys may hold ':'."""
    from ferry.nixl._api import nixl_agent, nixl_agent_config

    agent = nixl_agent("obj_query", nixl_agent_config(backends=[]))
    agent.create_backend("OBJ", {"endpoint_override": s3env["FERRY_S3_ENDPOINT"],
                                 "access_key": s3env["FERRY_S3_ACCESS_KEY"],
                                 "secret_key": s3env["FERRY_S3_SECRET_KEY"],
                                 "bucket": s3env["FERRY_S3_BUCKET"]})
    key = "interop/nixl/model@1@0:abc"
    s3.put_object(Bucket=s3env["FERRY_S3_BUCKET"], Key=key, Body=b"12345")
    found, missing = agent.query_memory([(0, 0, 0, key), (0, 0, 0, key + "-nope")], "OBJ",
                                        mem_type="OBJ")
    assert missing is None
    assert found is not None and found["size"] == "5"
