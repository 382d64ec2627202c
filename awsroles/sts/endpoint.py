"""Where STS calls go, and which region signs them: botocore's rules as a small table.

:func:`resolve_sts_endpoint` reproduces what ``botocore.session.Session().create_client('sts')``
chooses for the same profile and environment (reference §4.7), without importing botocore:

* region: explicit → ``AWS_DEFAULT_REGION`` → ``AWS_REGION`` → profile ``region``. botocore
  ignores ``AWS_REGION``; we read it as a last-resort env fallback because the cross-SDK
  vectors set it (a deliberate superset). Empty values count as unset.
* endpoint: explicit → ``AWS_ENDPOINT_URL_STS`` → ``AWS_ENDPOINT_URL`` → ``[services X]``
  ``sts.endpoint_url`` → profile ``endpoint_url`` → the STS endpoint rules. All configured
  sources (not the explicit one) are skipped when ``ignore_configured_endpoint_urls`` is true.
* rules: ``sts_regional_endpoints`` (``regional`` default, ``legacy``), FIPS, dual-stack and the
  partitions (aws, aws-cn, aws-us-gov, the iso partitions, aws-eusc).
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .._record import Record
from ..errors import InvalidConfigError

__all__ = ["StsEndpoint", "resolve_sts_endpoint", "LEGACY_GLOBAL_REGIONS", "GLOBAL_URL"]

GLOBAL_URL = "https://sts.amazonaws.com"

#: Regions that ``sts_regional_endpoints = legacy`` sends to the global endpoint.
LEGACY_GLOBAL_REGIONS = frozenset(
    "ap-northeast-1 ap-south-1 ap-southeast-1 ap-southeast-2 aws-global ca-central-1 "
    "eu-central-1 eu-north-1 eu-west-1 eu-west-2 eu-west-3 sa-east-1 us-east-1 us-east-2 "
    "us-west-1 us-west-2".split()
)

# (name, region regex, pseudo regions, dnsSuffix, dualStackDnsSuffix), in botocore's order.
# Unknown regions fall back to the first partition, as botocore does.
# fmt: off
_PARTITIONS: Tuple[Tuple[str, str, Tuple[str, ...], str, str], ...] = (
    ("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$", ("aws-global",),
     "amazonaws.com", "api.aws"),
    ("aws-cn", r"^cn\-\w+\-\d+$", ("aws-cn-global",),
     "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$", (), "amazonaws.eu", "api.amazonwebservices.eu"),
    ("aws-iso", r"^us\-iso\-\w+\-\d+$", ("aws-iso-global",), "c2s.ic.gov", "api.aws.ic.gov"),
    ("aws-iso-b", r"^us\-isob\-\w+\-\d+$", ("aws-iso-b-global",),
     "sc2s.sgov.gov", "api.aws.scloud"),
    ("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$", ("aws-iso-e-global",),
     "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
    ("aws-iso-f", r"^us\-isof\-\w+\-\d+$", ("aws-iso-f-global",),
     "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
    ("aws-us-gov", r"^us\-gov\-\w+\-\d+$", ("aws-us-gov-global",), "amazonaws.com", "api.aws"),
)
# fmt: on

_VALID_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$")
_REGIONAL_MODES = ("legacy", "regional")


class StsEndpoint(Record):
    """The URL STS calls go to and the region that signs them.

    ``signing_region`` is None only for a configured endpoint with no region anywhere: the
    unsigned web-identity call works, a signed call raises (as botocore's NoRegionError).
    ``source`` and ``region_source`` say where each came from, for ``explain``.
    """

    url: str
    signing_region: Optional[str]
    source: str
    region_source: Optional[str] = None


def _partition(region: str) -> Tuple[str, str, str]:
    for name, regex, pseudo, dns, dual in _PARTITIONS:
        if region in pseudo or re.match(regex, region):
            return name, dns, dual
    name, _, _, dns, dual = _PARTITIONS[0]
    return name, dns, dual


def _get(mapping: Mapping[str, Any], key: str) -> Optional[str]:
    value = mapping.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _flag(
    env: Mapping[str, str],
    env_name: str,
    profile: Mapping[str, Any],
    key: str,
    profile_name: Optional[str],
) -> bool:
    """A boolean setting, env first; an env var set to "" means false, as in botocore. Unlike
    botocore (anything but 'true' is silently false), other values are an error."""
    if env_name in env:
        value, where = (env[env_name] or "").strip(), f"environment variable {env_name}"
    else:
        value, where = _get(profile, key) or "", None
    if value.lower() in ("true", "false", ""):
        return value.lower() == "true"
    if where is None:
        raise InvalidConfigError(
            f"must be true or false, got {value!r}.", profile=profile_name, key=key
        )
    raise InvalidConfigError(f"{where} must be true or false, got {value!r}.")


def _check_url(
    url: str, where: str, profile_name: Optional[str] = None, key: Optional[str] = None
) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        from ..transport.base import safe_url  # the value may carry user:password@

        shown = safe_url(url)
        text = f"{where} is not a URL: {shown!r}." if not key else f"is not a URL: {shown!r}."
        raise InvalidConfigError(
            text,
            profile=profile_name,
            key=key,
            hint="Write a full URL with scheme and host, e.g. https://sts.example.com.",
        )
    return url


def service_endpoint_url(services: Mapping[str, Any], section: str, service: str) -> Optional[str]:
    """``endpoint_url`` of ``service`` in ``[services section]`` (parsed, or the raw
    sub-property text ``"\nendpoint_url = ..."``), or None."""
    entry = (services.get(section) or {}).get(service)
    if isinstance(entry, str):
        parsed = {}
        for line in entry.splitlines():
            name, sep, value = line.partition("=")
            if sep:
                parsed[name.strip()] = value.strip()
        entry = parsed
    if not isinstance(entry, Mapping):
        return None
    return _get(entry, "endpoint_url")


def _services_url(
    services: Mapping[str, Any], section: str, profile_name: Optional[str]
) -> Optional[str]:
    if section not in services:
        raise InvalidConfigError(
            f"names a [services {section}] section that does not exist.",
            profile=profile_name,
            key="services",
            hint=f"Add [services {section}] to the config file or remove the key.",
        )
    url = service_endpoint_url(services, section, "sts")
    if url is not None:
        _check_url(url, f"[services {section}] sts.endpoint_url")
    return url


def _configured_url(
    profile: Mapping[str, Any],
    env: Mapping[str, str],
    services: Mapping[str, Any],
    explicit: Optional[str],
    profile_name: Optional[str],
) -> Optional[Tuple[str, str]]:
    if explicit:
        return _check_url(explicit, "endpoint_url passed in code"), "endpoint_url passed in code"
    if _flag(
        env,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        profile,
        "ignore_configured_endpoint_urls",
        profile_name,
    ):
        return None
    for name in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"):
        url = _get(env, name)
        if url:
            return _check_url(url, f"environment variable {name}"), f"environment variable {name}"
    section = _get(profile, "services")
    if section:  # looked up only when no env var decided (botocore does the same)
        url = _services_url(services, section, profile_name)
        if url:
            return url, f"[services {section}] sts.endpoint_url"
    url = _get(profile, "endpoint_url")
    if url:
        where = f"profile '{profile_name}' endpoint_url" if profile_name else "endpoint_url"
        return _check_url(url, where, profile_name, "endpoint_url"), where
    return None


def _region(
    explicit: Optional[str],
    env: Mapping[str, str],
    profile: Mapping[str, Any],
    profile_name: Optional[str],
) -> Tuple[Optional[str], Optional[str]]:
    where_profile = f"profile '{profile_name}' region" if profile_name else "profile region"
    for value, where in (
        (explicit, "region passed in code"),
        (_get(env, "AWS_DEFAULT_REGION"), "environment variable AWS_DEFAULT_REGION"),
        (_get(env, "AWS_REGION"), "environment variable AWS_REGION"),
        (_get(profile, "region"), where_profile),
    ):
        if value:
            value = value.strip()
            if not _VALID_REGION.match(value):
                raise InvalidConfigError(
                    f"{where} is not a valid region name: {value!r}.",
                    hint="Write a region such as us-east-1.",
                )
            return value, where
    return None, None


def resolve_sts_endpoint(
    profile: Optional[Mapping[str, Any]] = None,
    env: Optional[Mapping[str, str]] = None,
    *,
    services: Optional[Mapping[str, Any]] = None,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    profile_name: Optional[str] = None,
) -> StsEndpoint:
    """Choose the STS endpoint for the *selected* profile, as botocore does (reference §4.7).

    ``profile`` holds the selected profile's values, ``services`` the ``[services X]``
    sections (name -> {"sts": {"endpoint_url": ...}}), ``env`` the environment (default
    ``os.environ``); ``region``/``endpoint_url`` are values passed in code.
    """
    profile = profile or {}
    services = services or {}
    env = os.environ if env is None else env

    region_name, region_source = _region(region, env, profile, profile_name)
    fips = _flag(env, "AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint", profile_name)
    dual = _flag(env, "AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint", profile_name)
    if region_name and ("fips-" in region_name or "-fips" in region_name):
        # botocore's pseudo regions fips-us-east-1 / us-east-1-fips: strip, turn FIPS on
        region_name = region_name.replace("fips-", "").replace("-fips", "")
        fips = True

    mode_env = "AWS_STS_REGIONAL_ENDPOINTS" in env
    if mode_env:  # present but empty means the default, as in botocore
        mode = (env["AWS_STS_REGIONAL_ENDPOINTS"] or "").strip() or "regional"
    else:
        mode = _get(profile, "sts_regional_endpoints") or "regional"
    if mode not in _REGIONAL_MODES:
        valid = ", ".join(f'"{m}"' for m in _REGIONAL_MODES)
        if mode_env:
            raise InvalidConfigError(
                f"environment variable AWS_STS_REGIONAL_ENDPOINTS is {mode!r}; "
                f"valid values are {valid}."
            )
        raise InvalidConfigError(
            f"is {mode!r}; valid values are {valid}.",
            profile=profile_name,
            key="sts_regional_endpoints",
        )

    # 1. a configured endpoint: the first source that has one wins
    found = _configured_url(profile, env, services, endpoint_url, profile_name)
    if found is not None:
        # botocore signs for the region as written here, even the pseudo region aws-global
        return StsEndpoint(found[0], region_name, found[1], region_source)

    # 2. the endpoint rules
    if region_name in (None, "aws-global") and not (fips or dual):
        why = "no region configured" if region_name is None else "region aws-global"
        return StsEndpoint(GLOBAL_URL, "us-east-1", f"global endpoint ({why})", region_source)
    if region_name in (None, "aws-global"):
        # botocore builds sts-fips.aws-global.amazonaws.com / sts.aws-global.api.aws here,
        # hosts that do not exist; we use us-east-1, where the global endpoint lives.
        region_name, region_source = "us-east-1", region_source or "default (no region)"

    part, dns, dual_dns = _partition(region_name)
    if fips and dual:
        url, what = f"https://sts-fips.{region_name}.{dual_dns}", "FIPS dual-stack endpoint"
    elif fips and part == "aws-us-gov":
        url, what = f"https://sts.{region_name}.amazonaws.com", "FIPS endpoint (GovCloud)"
    elif fips:
        url, what = f"https://sts-fips.{region_name}.{dns}", "FIPS endpoint"
    elif dual:
        url, what = f"https://sts.{region_name}.{dual_dns}", "dual-stack endpoint"
    elif mode == "legacy" and region_name in LEGACY_GLOBAL_REGIONS:
        return StsEndpoint(
            GLOBAL_URL,
            "us-east-1",
            f"global endpoint (sts_regional_endpoints = legacy, region {region_name})",
            region_source,
        )
    else:
        url, what = f"https://sts.{region_name}.{dns}", "regional endpoint"
    return StsEndpoint(url, region_name, f"{what} for {region_name}", region_source)
