"""The SDKs' container vectors: the 11 cases of ecs-tests.json (endpoint URI selection and
validation) and the three container scenarios of default-credential-provider-chain
(ecs_credentials, eks_pod_identity_credentials, eks_pod_identity_no_token_file), run against
the container provider alone with their recorded HTTP traffic replayed in memory."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from awsroles.errors import AwsRolesError, CredentialRetrievalError
from awsroles.providers.container import ContainerProvider, resolve_container_uri
from awsroles.testing.clock import FrozenClock
from awsroles.transport.base import HttpResponse

from helpers import check, load, make_context

DATA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "conformance",
    "smithy-rs",
    "aws-config",
    "test-data",
)
CHAIN = os.path.join(DATA, "default-credential-provider-chain")
NOT_ENABLED = "No environment variables were set to configure ECS provider"

with open(os.path.join(DATA, "ecs-tests.json")) as f:
    ECS_TESTS = json.load(f)["tests"]


def test_there_are_eleven_vectors():
    assert len(ECS_TESTS) == 11


class Replay:
    """Serves the recorded responses in order and checks each request's method and URI."""

    def __init__(self, events):
        self.exchanges = []
        by_conn = {}
        for event in events:
            action = event["action"]
            entry = by_conn.setdefault(event["connection_id"], {})
            if "Request" in action:
                entry["request"] = action["Request"]["request"]
            elif "Response" in action:
                entry["response"] = action["Response"]["response"]["Ok"]
            elif "Data" in action and action["Data"]["direction"] == "Response":
                entry["body"] = entry.get("body", "") + action["Data"]["data"]["Utf8"]
        self.exchanges = [by_conn[k] for k in sorted(by_conn)]
        self.sent = []

    def __call__(self, request):
        n = len(self.sent)
        self.sent.append(request)
        assert n < len(self.exchanges), f"unexpected request #{n + 1} to {request.url}"
        recorded = self.exchanges[n]
        assert request.method == recorded["request"]["method"]
        assert request.url == recorded["request"]["uri"]
        for name, values in recorded["request"]["headers"].items():
            sent = {k.lower(): v for k, v in request.headers.items()}
            assert sent.get(name) == values[0], name
        resp = recorded["response"]
        headers = {k.lower(): v[0] for k, v in resp["headers"].items()}
        return HttpResponse(resp["status"], headers, recorded.get("body", "").encode())


def ok_doc():
    return HttpResponse(
        200,
        {},
        json.dumps(
            {
                "AccessKeyId": "ASIAVECTOR",
                "SecretAccessKey": "s",
                "Token": "t",
                "Expiration": "2030-01-01T01:00:00Z",
            }
        ).encode(),
    )


@pytest.mark.parametrize("case", ECS_TESTS, ids=[c["docs"] for c in ECS_TESTS])
def test_ecs_uri_vector(case):
    env = case["env"]
    result = case["result"]
    sent = []

    def transport(request):
        sent.append(request)
        return ok_doc()

    ctx = make_context(env=env, clock=FrozenClock(), transport=transport, background_refresh=False)
    if "Ok" in result:
        assert resolve_container_uri(env) == result["Ok"]
        creds = load(ContainerProvider(), ctx)  # the request goes to exactly that URI
        assert creds.access_key == "ASIAVECTOR"
        assert [r.url for r in sent] == [result["Ok"]]
    elif result["ErrorContains"] == NOT_ENABLED:
        assert resolve_container_uri(env) is None
        assert load(ContainerProvider(), ctx) is None
        assert check(ContainerProvider(), ctx)[0] is False
    else:
        with pytest.raises(AwsRolesError) as info:
            load(ContainerProvider(), ctx)
        assert result["ErrorContains"] in str(info.value)
        assert sent == []


SCENARIOS = ["ecs_credentials", "eks_pod_identity_credentials", "eks_pod_identity_no_token_file"]


def scenario_env(case_dir, tmp_path):
    """env.json with the fake fs copied under tmp_path and absolute paths rewritten."""
    with open(os.path.join(case_dir, "env.json")) as f:
        env = json.load(f)
    fs = os.path.join(case_dir, "fs")
    root = tmp_path / "fs"
    if os.path.isdir(fs):
        shutil.copytree(fs, str(root))
    else:
        root.mkdir()
    for name in ("HOME", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CONFIG_FILE"):
        if name in env:
            env[name] = str(root) + env[name]
    return env


@pytest.mark.parametrize("name", SCENARIOS)
def test_container_scenario(name, tmp_path):
    case_dir = os.path.join(CHAIN, name)
    env = scenario_env(case_dir, tmp_path)
    with open(os.path.join(case_dir, "http-traffic.json")) as f:
        replay = Replay(json.load(f)["events"])
    with open(os.path.join(case_dir, "test-case.json")) as f:
        expected = json.load(f)["result"]
    clock = FrozenClock("2009-02-13T23:00:00Z")  # before the recorded Expiration
    ctx = make_context(env=env, clock=clock, transport=replay, background_refresh=False)
    if "Ok" in expected:
        creds = load(ContainerProvider(), ctx).get_frozen_credentials()
        ok = expected["Ok"]
        assert creds.access_key == ok["access_key_id"]
        assert creds.secret_key == ok["secret_access_key"]
        assert creds.token == ok.get("session_token")
        assert creds.account_id == ok.get("account_id")
        assert int(creds.expiry.timestamp()) == ok["expiry"]
        assert len(replay.sent) == len(replay.exchanges) == 1
        if "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" in env:
            with open(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) as f:
                assert replay.sent[0].headers["Authorization"] == f.read()
        else:
            assert "Authorization" not in replay.sent[0].headers
    else:
        with pytest.raises(CredentialRetrievalError) as info:
            load(ContainerProvider(), ctx)
        assert info.value.key == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
        assert "does not exist" in str(info.value)  # Rust: "No such file or directory"
        assert replay.sent == [] and replay.exchanges == []
