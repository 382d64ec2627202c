"""End to end against moto's STS server on 127.0.0.1 (no real AWS is touched)."""

from __future__ import annotations

import socket

import pytest

from awsroles.credentials import Credentials
from awsroles.sts.client import AssumeRoleParams, StsClient
from awsroles.sts.endpoint import resolve_sts_endpoint

pytestmark = pytest.mark.e2e

moto_server = pytest.importorskip("moto.server")

ACCOUNT = "123456789012"  # moto's default account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Deploy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    mp = pytest.MonkeyPatch()
    # moto and anything it loads must never see real credentials or reach AWS
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        mp.delenv(name, raising=False)
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
        host, port = server.get_host_and_port()
    except Exception:  # older moto without port=0 support: pick a free port ourselves
        server = moto_server.ThreadedMotoServer(
            ip_address="127.0.0.1", port=_free_port(), verbose=False
        )
        server.start()
        host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    mp.undo()


def test_assume_role_then_caller_identity(moto_url):
    endpoint = resolve_sts_endpoint({"region": "us-east-1"}, {"AWS_ENDPOINT_URL_STS": moto_url})
    client = StsClient(endpoint)
    source = Credentials("AKIAMOTOSOURCE000001", "moto-secret")
    response = client.assume_role(
        source, AssumeRoleParams(ROLE, "e2e-session", external_id="ext-42", duration_seconds=900)
    )
    data = response.data
    assert list(data)[:2] == ["Credentials", "AssumedRoleUser"]
    assert data["ResponseMetadata"]["HTTPStatusCode"] == 200
    creds = response.credentials("assume-role")
    assert creds.token and creds.expiry is not None and creds.account_id == ACCOUNT
    identity = client.get_caller_identity(creds)
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deploy/e2e-session"
    assert identity["Account"] == ACCOUNT


def test_role_chain(moto_url):
    endpoint = resolve_sts_endpoint({"region": "us-east-1"}, {"AWS_ENDPOINT_URL_STS": moto_url})
    client = StsClient(endpoint)
    hop1 = client.assume_role(
        Credentials("AKIAMOTOSOURCE000001", "moto-secret"), AssumeRoleParams(ROLE, "hop1")
    ).credentials("assume-role")
    second = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    hop2 = client.assume_role(hop1, AssumeRoleParams(second, "hop2")).credentials("assume-role")
    assert client.get_caller_identity(hop2)["Arn"].endswith(":assumed-role/Admin/hop2")


def test_web_identity_unsigned_without_region(moto_url):
    endpoint = resolve_sts_endpoint({}, {"AWS_ENDPOINT_URL_STS": moto_url})
    assert endpoint.signing_region is None
    response = StsClient(endpoint).assume_role_with_web_identity(ROLE, "web-e2e", "a-token")
    creds = response.credentials("assume-role-with-web-identity")
    assert creds.expiry is not None  # moto writes fractional seconds: …754877Z
    assert response.data["AssumedRoleUser"]["Arn"].endswith(":assumed-role/Deploy/web-e2e")
