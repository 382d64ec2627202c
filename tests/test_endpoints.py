"""STS endpoint choice: a differential test against botocore's own sts client.

For each case the same settings go to botocore (env + a temporary config file) and to
resolve_sts_endpoint; botocore's real request is captured with a before-send hook, so the URL
and the region in the Authorization credential scope are what botocore would put on the wire.
"""

from __future__ import annotations

import os
import re
from unittest import mock

import pytest

from awsroles.errors import InvalidConfigError
from awsroles.sts.endpoint import StsEndpoint, resolve_sts_endpoint

CANNED = (
    b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
    b"<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
    b"<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"
    b"<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId>"
    b"<Arn>arn:aws:sts::123456789012:assumed-role/r/x</Arn></AssumedRoleUser>"
    b"</AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>"
    b"</AssumeRoleResponse>"
)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kw):
        yield self._body


def _config_text(profile, services):
    lines = ["[profile p]"] + [f"{k} = {v}" for k, v in profile.items()]
    for name, section in services.items():
        lines.append(f"[services {name}]")
        for svc, sub in section.items():
            lines.append(f"{svc} =")
            lines.extend(f"  {k} = {v}" for k, v in sub.items())
    return "\n".join(lines) + "\n"


_LOADER = []


def _shared_loader():
    if not _LOADER:  # one model loader for every case: the oracle runs ~40 times
        from botocore.loaders import create_loader

        _LOADER.append(create_loader())
    return _LOADER[0]


def botocore_endpoint(tmp_path, env, profile, services, region=None, endpoint_url=None):
    """(url without trailing '/', signing region) as botocore sends it, or the error class."""
    import botocore.session
    from botocore.awsrequest import AWSResponse

    cfg = tmp_path / "config"
    cfg.write_text(_config_text(profile, services))
    full = {
        "AWS_CONFIG_FILE": str(cfg),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_ACCESS_KEY_ID": "AKIAORACLE",
        "AWS_SECRET_ACCESS_KEY": "oracle-secret",
        "AWS_PROFILE": "p",
        "HOME": str(tmp_path),
    }
    full.update(env)
    seen = {}

    def hook(request, **kw):
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        seen["url"] = request.url
        seen["region"] = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/sts/", auth).group(1)
        return AWSResponse(request.url, 200, {}, _Raw(CANNED))

    with mock.patch.dict(os.environ, full, clear=True):
        try:
            session = botocore.session.Session()
            session.register_component("data_loader", _shared_loader())
            client = session.create_client("sts", region_name=region, endpoint_url=endpoint_url)
            client.meta.events.register("before-send", hook)
            client.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="ss")
        except Exception as exc:  # the oracle's verdict, compared below
            return type(exc).__name__
    url = seen["url"]
    return (url[:-1] if url.endswith("/") else url), seen["region"]


R = {"AWS_DEFAULT_REGION": "us-east-1"}
SVC = {"dev": {"sts": {"endpoint_url": "https://svc.example.com"}}}

# (id, env, profile, services, explicit region, explicit endpoint)
CASES = [
    ("no-region", {}, {}, {}, None, None),
    ("env-region", {"AWS_DEFAULT_REGION": "eu-central-1"}, {}, {}, None, None),
    ("profile-region", {}, {"region": "ap-south-1"}, {}, None, None),
    (
        "env-beats-profile",
        {"AWS_DEFAULT_REGION": "eu-central-1"},
        {"region": "ap-south-1"},
        {},
        None,
        None,
    ),
    (
        "explicit-region",
        {"AWS_DEFAULT_REGION": "eu-central-1"},
        {"region": "ap-south-1"},
        {},
        "eu-west-3",
        None,
    ),
    ("us-east-1", R, {}, {}, None, None),
    (
        "legacy-profile-us-east-1",
        {},
        {"region": "us-east-1", "sts_regional_endpoints": "legacy"},
        {},
        None,
        None,
    ),
    (
        "legacy-env-eu-west-1",
        {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_STS_REGIONAL_ENDPOINTS": "legacy"},
        {},
        {},
        None,
        None,
    ),
    (
        "legacy-ap-east-1",
        {},
        {"region": "ap-east-1", "sts_regional_endpoints": "legacy"},
        {},
        None,
        None,
    ),
    (
        "regional-env-beats-legacy-profile",
        {"AWS_STS_REGIONAL_ENDPOINTS": "regional"},
        {"region": "us-west-2", "sts_regional_endpoints": "legacy"},
        {},
        None,
        None,
    ),
    ("legacy-no-region", {"AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, {}, {}, None, None),
    (
        "legacy-fips",
        {"AWS_STS_REGIONAL_ENDPOINTS": "legacy", "AWS_USE_FIPS_ENDPOINT": "true"},
        {"region": "us-east-1"},
        {},
        None,
        None,
    ),
    ("cn-north-1", {"AWS_DEFAULT_REGION": "cn-north-1"}, {}, {}, None, None),
    (
        "cn-dualstack",
        {"AWS_DEFAULT_REGION": "cn-northwest-1", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
        {},
        {},
        None,
        None,
    ),
    ("us-gov", {"AWS_DEFAULT_REGION": "us-gov-west-1"}, {}, {}, None, None),
    (
        "us-gov-fips",
        {"AWS_DEFAULT_REGION": "us-gov-west-1", "AWS_USE_FIPS_ENDPOINT": "true"},
        {},
        {},
        None,
        None,
    ),
    ("fips-env", {**R, "AWS_USE_FIPS_ENDPOINT": "TRUE"}, {}, {}, None, None),
    ("fips-profile", {}, {"region": "eu-west-1", "use_fips_endpoint": "true"}, {}, None, None),
    (
        "fips-env-false-beats-profile",
        {"AWS_USE_FIPS_ENDPOINT": "false"},
        {"region": "eu-west-1", "use_fips_endpoint": "true"},
        {},
        None,
        None,
    ),
    ("dualstack", {**R, "AWS_USE_DUALSTACK_ENDPOINT": "true"}, {}, {}, None, None),
    (
        "dualstack-profile",
        {},
        {"region": "us-east-1", "use_dualstack_endpoint": "true"},
        {},
        None,
        None,
    ),
    (
        "fips-and-dualstack",
        {
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_USE_FIPS_ENDPOINT": "true",
            "AWS_USE_DUALSTACK_ENDPOINT": "true",
        },
        {},
        {},
        None,
        None,
    ),
    ("fips-pseudo-region-prefix", {"AWS_DEFAULT_REGION": "fips-us-east-1"}, {}, {}, None, None),
    ("fips-pseudo-region-suffix", {"AWS_DEFAULT_REGION": "us-west-2-fips"}, {}, {}, None, None),
    ("aws-global", {"AWS_DEFAULT_REGION": "aws-global"}, {}, {}, None, None),
    ("iso", {"AWS_DEFAULT_REGION": "us-iso-east-1"}, {}, {}, None, None),
    ("iso-e", {"AWS_DEFAULT_REGION": "eu-isoe-west-1"}, {}, {}, None, None),
    (
        "eusc-dualstack",
        {"AWS_DEFAULT_REGION": "eusc-de-east-1", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
        {},
        {},
        None,
        None,
    ),
    ("unknown-region", {"AWS_DEFAULT_REGION": "mars-1"}, {}, {}, None, None),
    (
        "env-endpoint-sts",
        {**R, "AWS_ENDPOINT_URL_STS": "https://sts.example.com"},
        {},
        {},
        None,
        None,
    ),
    (
        "env-endpoint-global",
        {**R, "AWS_ENDPOINT_URL": "https://all.example.com"},
        {},
        {},
        None,
        None,
    ),
    (
        "env-endpoint-both",
        {
            **R,
            "AWS_ENDPOINT_URL": "https://all.example.com",
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:4566",
        },
        {},
        {},
        None,
        None,
    ),
    ("services-section", {}, {"region": "eu-west-1", "services": "dev"}, SVC, None, None),
    (
        "services-beats-profile-endpoint",
        {},
        {"region": "eu-west-1", "services": "dev", "endpoint_url": "https://prof.example.com"},
        SVC,
        None,
        None,
    ),
    (
        "services-without-sts",
        {},
        {"region": "eu-west-1", "services": "dev"},
        {"dev": {"s3": {"endpoint_url": "https://s3.example.com"}}},
        None,
        None,
    ),
    (
        "profile-endpoint",
        {},
        {"region": "eu-west-1", "endpoint_url": "https://prof.example.com"},
        {},
        None,
        None,
    ),
    (
        "env-endpoint-beats-services",
        {"AWS_ENDPOINT_URL": "https://all.example.com"},
        {"region": "eu-west-1", "services": "dev"},
        SVC,
        None,
        None,
    ),
    (
        "ignore-env",
        {
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            "AWS_ENDPOINT_URL_STS": "https://sts.example.com",
        },
        {"region": "eu-west-1", "endpoint_url": "https://prof.example.com", "services": "dev"},
        SVC,
        None,
        None,
    ),
    (
        "ignore-profile",
        {},
        {
            "region": "eu-west-1",
            "endpoint_url": "https://prof.example.com",
            "ignore_configured_endpoint_urls": "true",
        },
        {},
        None,
        None,
    ),
    (
        "ignore-env-false-beats-profile",
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"},
        {
            "region": "eu-west-1",
            "endpoint_url": "https://prof.example.com",
            "ignore_configured_endpoint_urls": "true",
        },
        {},
        None,
        None,
    ),
    (
        "explicit-endpoint-beats-ignore",
        {
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            "AWS_ENDPOINT_URL_STS": "https://sts.example.com",
        },
        {"region": "eu-west-1"},
        {},
        None,
        "https://code.example.com",
    ),
    (
        "fips-with-custom-endpoint",
        {**R, "AWS_USE_FIPS_ENDPOINT": "true", "AWS_ENDPOINT_URL_STS": "https://x.example.com"},
        {},
        {},
        None,
        None,
    ),
    (
        "custom-endpoint-with-path",
        {**R, "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000/base"},
        {},
        {},
        None,
        None,
    ),
    (
        "env-endpoint-skips-missing-services",
        {"AWS_ENDPOINT_URL": "https://all.example.com"},
        {"region": "eu-west-1", "services": "nosuch"},
        {},
        None,
        None,
    ),
    (
        "ignore-skips-missing-services",
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
        {"region": "eu-west-1", "services": "nosuch"},
        {},
        None,
        None,
    ),
    (
        "empty-env-endpoint-falls-through",
        {"AWS_ENDPOINT_URL_STS": ""},
        {"region": "eu-west-1", "endpoint_url": "https://prof.example.com"},
        {},
        None,
        None,
    ),
    (
        "empty-env-flags-beat-profile",
        {
            "AWS_USE_FIPS_ENDPOINT": "",
            "AWS_USE_DUALSTACK_ENDPOINT": "",
            "AWS_STS_REGIONAL_ENDPOINTS": "",
        },
        {
            "region": "us-east-1",
            "use_fips_endpoint": "true",
            "use_dualstack_endpoint": "true",
            "sts_regional_endpoints": "legacy",
        },
        {},
        None,
        None,
    ),
    (
        "empty-env-ignore-beats-profile",
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": ""},
        {
            "region": "eu-west-1",
            "endpoint_url": "https://prof.example.com",
            "ignore_configured_endpoint_urls": "true",
        },
        {},
        None,
        None,
    ),
    (
        "custom-endpoint-aws-global",
        {"AWS_DEFAULT_REGION": "aws-global", "AWS_ENDPOINT_URL_STS": "https://x.example.com"},
        {},
        {},
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    "name,env,profile,services,region,endpoint", CASES, ids=[c[0] for c in CASES]
)
def test_matches_botocore(tmp_path, name, env, profile, services, region, endpoint):
    expected = botocore_endpoint(tmp_path, env, profile, services, region, endpoint)
    ours = resolve_sts_endpoint(
        profile, env, services=services, region=region, endpoint_url=endpoint, profile_name="p"
    )
    assert isinstance(ours, StsEndpoint)
    assert (ours.url, ours.signing_region) == expected, ours.source
    assert ours.source


ERROR_CASES = [
    ("bad-regional-mode-env", {**R, "AWS_STS_REGIONAL_ENDPOINTS": "bogus"}, {}, {}),
    (
        "bad-regional-mode-profile",
        {},
        {"region": "us-east-1", "sts_regional_endpoints": "Legacy"},
        {},
    ),
    ("missing-services-section", {}, {"region": "eu-west-1", "services": "nosuch"}, {}),
    ("endpoint-not-a-url", {**R, "AWS_ENDPOINT_URL_STS": "127.0.0.1:5000"}, {}, {}),
    ("profile-endpoint-not-a-url", {}, {"region": "eu-west-1", "endpoint_url": "localhost"}, {}),
    ("bad-region-name", {"AWS_DEFAULT_REGION": "Bad Region"}, {}, {}),
]


@pytest.mark.parametrize("name,env,profile,services", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_where_botocore_errors(tmp_path, name, env, profile, services):
    assert isinstance(botocore_endpoint(tmp_path, env, profile, services), str)
    with pytest.raises(InvalidConfigError):
        resolve_sts_endpoint(profile, env, services=services, profile_name="p")


def test_custom_endpoint_without_region_cannot_sign(tmp_path):
    env = {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000"}
    assert botocore_endpoint(tmp_path, env, {}, {}) == "NoRegionError"
    ours = resolve_sts_endpoint({}, env)
    assert ours.url == "http://127.0.0.1:5000" and ours.signing_region is None


# --- messages ---------------------------------------------------------------------------------


def test_regional_mode_error_names_key_and_valid_values():
    with pytest.raises(InvalidConfigError) as exc:
        resolve_sts_endpoint({"sts_regional_endpoints": "bogus"}, {}, profile_name="dev")
    text = str(exc.value)
    assert "profile 'dev'" in text and "sts_regional_endpoints" in text
    assert '"legacy", "regional"' in text and "bogus" in text
    with pytest.raises(InvalidConfigError, match="AWS_STS_REGIONAL_ENDPOINTS"):
        resolve_sts_endpoint({}, {"AWS_STS_REGIONAL_ENDPOINTS": "x"})


def test_missing_services_section_names_it():
    with pytest.raises(InvalidConfigError, match=r"\[services nosuch\]"):
        resolve_sts_endpoint({"services": "nosuch"}, {}, services={"dev": {}}, profile_name="p")


@pytest.mark.parametrize(
    "env,profile,services,where",
    [
        ({"AWS_ENDPOINT_URL_STS": "sts.example.com"}, {}, {}, "AWS_ENDPOINT_URL_STS"),
        ({"AWS_ENDPOINT_URL": "ftp://x"}, {}, {}, "AWS_ENDPOINT_URL"),
        ({}, {"endpoint_url": "nohost"}, {}, "key 'endpoint_url'"),
        ({}, {"services": "dev"}, {"dev": {"sts": {"endpoint_url": "x"}}}, "[services dev]"),
    ],
)
def test_bad_endpoint_names_its_source(env, profile, services, where):
    with pytest.raises(InvalidConfigError) as exc:
        resolve_sts_endpoint(profile, env, services=services, profile_name="p")
    assert where in str(exc.value)


# --- where we deliberately differ from botocore ---------------------------------------------


def test_aws_region_is_a_fallback(tmp_path):
    # botocore ignores AWS_REGION (global endpoint); the cross-SDK vectors rely on it.
    env = {"AWS_REGION": "eu-central-1"}
    assert botocore_endpoint(tmp_path, env, {}, {}) == ("https://sts.amazonaws.com", "us-east-1")
    ours = resolve_sts_endpoint({}, env)
    assert (ours.url, ours.signing_region) == (
        "https://sts.eu-central-1.amazonaws.com",
        "eu-central-1",
    )
    assert ours.region_source == "environment variable AWS_REGION"


def test_aws_region_ranks_after_default_region_and_before_profile():
    env = {"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-2"}
    assert resolve_sts_endpoint({"region": "ap-south-1"}, env).signing_region == "eu-west-2"
    env = {"AWS_REGION": "eu-central-1"}
    assert resolve_sts_endpoint({"region": "ap-south-1"}, env).signing_region == "eu-central-1"


def test_empty_env_region_is_unset():
    # botocore builds https://sts..amazonaws.com and fails; we fall through to the profile.
    ours = resolve_sts_endpoint({"region": "eu-west-1"}, {"AWS_DEFAULT_REGION": ""})
    assert ours.url == "https://sts.eu-west-1.amazonaws.com"


def test_fips_without_region_uses_us_east_1():
    # botocore would use sts-fips.aws-global.amazonaws.com, a host that does not exist.
    ours = resolve_sts_endpoint({}, {"AWS_USE_FIPS_ENDPOINT": "true"})
    assert (ours.url, ours.signing_region) == (
        "https://sts-fips.us-east-1.amazonaws.com",
        "us-east-1",
    )


@pytest.mark.parametrize(
    "env", [{"AWS_USE_FIPS_ENDPOINT": "true"}, {"AWS_USE_DUALSTACK_ENDPOINT": "true"}]
)
def test_aws_global_with_fips_or_dualstack_uses_us_east_1(env):
    ours = resolve_sts_endpoint({"region": "aws-global"}, env)
    assert ours.signing_region == "us-east-1" and ".us-east-1." in ours.url


@pytest.mark.parametrize("value", ["1", "yes", "on"])
def test_non_boolean_flag_is_an_error(value):
    # botocore silently treats anything but "true" as false.
    with pytest.raises(InvalidConfigError, match="use_fips_endpoint"):
        resolve_sts_endpoint(
            {"use_fips_endpoint": value, "region": "us-east-1"}, {}, profile_name="p"
        )
    with pytest.raises(InvalidConfigError, match="AWS_USE_DUALSTACK_ENDPOINT"):
        resolve_sts_endpoint({}, {"AWS_USE_DUALSTACK_ENDPOINT": value})


def test_sources_explain_the_choice():
    ep = resolve_sts_endpoint({"region": "eu-west-1"}, {}, profile_name="dev")
    assert ep.source == "regional endpoint for eu-west-1"
    assert ep.region_source == "profile 'dev' region"
    ep = resolve_sts_endpoint({}, {})
    assert "no region" in ep.source
    ep = resolve_sts_endpoint({"services": "dev", "region": "eu-west-1"}, {}, services=SVC)
    assert ep.source == "[services dev] sts.endpoint_url"


def test_raw_services_subproperty_text_is_accepted():
    raw = {"dev": {"sts": "\nendpoint_url = http://localhost:4566"}}
    ep = resolve_sts_endpoint({"services": "dev", "region": "eu-west-1"}, {}, services=raw)
    assert ep.url == "http://localhost:4566"


def test_does_not_import_botocore():
    import subprocess
    import sys

    code = (
        "import sys, awsroles.sts.endpoint as e; e.resolve_sts_endpoint({}, {}); "
        "print(any(m.startswith('botocore') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.stdout.strip() == "False", out.stderr
