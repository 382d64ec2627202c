"""awsroles.sts.sigv4 against botocore.auth.SigV4Auth: the same headers, byte for byte.

botocore is the reference: every case signs the same request with both and compares the
complete header set (X-Amz-Date, X-Amz-Security-Token, Authorization and the rest).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from awsroles.sts.sigv4 import sign

EXAMPLES = int(os.environ.get("AWSROLES_FUZZ_EXAMPLES", "200"))
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def botocore_headers(method, url, headers, body, access, secret, token, region, service, now):
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = SigV4Auth(BotoCredentials(access, secret, token), service, region)
    req.context["timestamp"] = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(req)
    canonical = signer.canonical_request(req)
    signer._inject_signature_to_request(
        req, signer.signature(signer.string_to_sign(req, canonical), req)
    )
    return [(k, v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()]


def ours(method, url, headers, body, access, secret, token, region, service, now):
    out = sign(
        method,
        url,
        headers,
        body,
        access_key=access,
        secret_key=secret,
        token=token,
        region=region,
        service=service,
        now=now,
    )
    return list(out.items())


def both(*args):
    return ours(*args), botocore_headers(*args)


NOW = datetime(2026, 11, 23, 4, 30, 5, tzinfo=timezone.utc)
BODY = urlencode(
    [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", "arn:aws:iam::1:role/R")]
).encode()


@pytest.mark.parametrize(
    "url",
    [
        "https://sts.amazonaws.com/",
        "https://sts.us-east-1.amazonaws.com/",
        "https://STS.EU-WEST-1.amazonaws.com:443/",
        "http://127.0.0.1:8080/",
        "http://localhost:80/",
        "https://[::1]:4443/",
        "http://[fd00:ec2::254]/",
        "https://user:pw@sts.example.com:8443/base/path/",
        "https://sts.example.com/a/./b/../c//d",
        "https://sts.example.com/~user/with space/%41",
        "https://sts.example.com/?b=2&a=1&a=0",
        "https://sts.example.com",
    ],
)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLE//token+/="])
def test_same_headers_as_botocore(url, token):
    a, b = both(
        "POST",
        url,
        {"Content-Type": CONTENT_TYPE},
        BODY,
        "ASIAEXAMPLE",
        "s3cr3t",
        token,
        "us-east-1",
        "sts",
        NOW,
    )
    assert a == b


KNOWN = (
    "POST",
    "https://sts.amazonaws.com/",
    {"Content-Type": CONTENT_TYPE},
    BODY,
    "AKIDEXAMPLE",
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    None,
    "us-east-1",
    "sts",
    NOW,
)


def test_a_known_signature_stays_stable():
    """A fixed input, so a change in botocore and in awsroles at once cannot go unseen."""
    headers = dict(ours(*KNOWN))
    assert headers["X-Amz-Date"] == "20261123T043005Z"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/sts/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, Signature="
    )
    assert len(headers["Authorization"].rsplit("=", 1)[1]) == 64
    assert headers == dict(botocore_headers(*KNOWN))
    # pinned (botocore 1.43 computes the same): what the docstring promises
    assert headers["Authorization"].endswith(
        "Signature=97e5e98237ec2733cc6ebf514e49e30154a78d3a61c7fd676d8547598654ff6f"
    )


def test_existing_auth_headers_are_replaced_not_doubled():
    stale = {
        "Content-Type": CONTENT_TYPE,
        "Authorization": "old",
        "X-Amz-Date": "19700101T000000Z",
        "X-Amz-Security-Token": "old-token",
    }
    a, b = both(
        "POST", "https://sts.amazonaws.com/", stale, BODY, "A", "S", "T", "eu-west-1", "sts", NOW
    )
    assert sorted(a) == sorted(b)
    assert dict(a)["X-Amz-Security-Token"] == "T"


def test_unsigned_headers_are_left_out_of_the_signature():
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "awsroles/1",
        "X-Amzn-Trace-Id": "Root=1",
        "Connection": "keep-alive",
        "X-Custom": "  several   spaces  ",
    }
    a, b = both(
        "POST", "https://sts.amazonaws.com/", headers, BODY, "A", "S", None, "us-east-1", "sts", NOW
    )
    assert a == b
    assert "SignedHeaders=content-type;host;x-amz-date;x-custom," in dict(a)["Authorization"]


def test_nothing_is_logged(caplog):
    caplog.set_level("DEBUG")
    ours("POST", "https://sts.amazonaws.com/", {}, BODY, "A", "S", "T", "us-east-1", "sts", NOW)
    assert caplog.records == []


_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
)
_host = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True)
_path = st.lists(
    st.sampled_from(["a", "b", ".", "..", "", "x y", "~t", "%2F", "é"]), max_size=6
).map(lambda segs: "/" + "/".join(segs))


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=_host,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_path,
    body=st.binary(max_size=300),
    access=st.from_regex(r"[A-Z0-9]{4,24}", fullmatch=True),
    secret=_text,
    token=st.one_of(st.none(), _text),
    region=st.sampled_from(["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "x"]),
    seconds=st.integers(0, 20 * 365 * 86400),
    extra=st.dictionaries(
        st.from_regex(r"X-[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True),
        st.text(alphabet=" \tabcXYZ019=/+", max_size=20),
        max_size=3,
    ),
)
def test_generated_requests_match_botocore(
    scheme, host, port, path, body, access, secret, token, region, seconds, extra
):
    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}{path}"
    now = datetime(2010, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    headers = {"Content-Type": CONTENT_TYPE, **extra}
    a, b = both("POST", url, headers, body, access, secret, token, region, "sts", now)
    assert a == b
