"""All 14 cases of the shared imds-endpoint-tests.json vectors: the token URL the provider really
requests, or the error it raises. The two builder-override cases map to ``ImdsProvider(endpoint=,
mode=)``."""

import json
import os

import pytest

from awsroles.errors import InvalidConfigError
from awsroles.providers.imds import ImdsProvider
from awsroles.testing.clock import FrozenClock
from awsroles.transport.base import HttpResponse

from helpers import load, make_context

VECTORS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "conformance/smithy-rs/aws-config/test-data/imds-config/imds-endpoint-tests.json",
)
with open(VECTORS, encoding="utf-8") as f:
    CASES = json.load(f)["tests"]


def test_vector_count():
    assert len(CASES) == 14
    assert sum("Ok" in c["result"] for c in CASES) == 11


def _context(case, tmp_path, transport):
    for name, text in case["fs"].items():
        (tmp_path / name).write_text(text)
    env = {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-config")
    for name, value in case["env"].items():
        env[name] = str(tmp_path / value) if name == "AWS_CONFIG_FILE" else value
    return make_context(env=env, clock=FrozenClock(), transport=transport, background_refresh=False)


@pytest.mark.parametrize("case", CASES, ids=[c["docs"] for c in CASES])
def test_imds_endpoint_vector(case, tmp_path):
    sent = []

    def transport(request):
        sent.append(request)
        return HttpResponse(404, {}, b"")  # no token, then no role: the provider gives None

    ctx = _context(case, tmp_path, transport)
    provider = ImdsProvider(endpoint=case.get("endpoint_override"), mode=case.get("mode_override"))
    if "Ok" in case["result"]:
        assert provider.config(ctx).token_url == case["result"]["Ok"]
        assert load(provider, ctx) is None
        assert (sent[0].method, sent[0].url) == ("PUT", case["result"]["Ok"])
    else:
        with pytest.raises(InvalidConfigError) as err:
            load(provider, ctx)
        assert case["result"]["Err"] in str(err.value)
        assert err.value.key in case["env"] or err.value.profile == "default"
        assert sent == []
