"""Where STS calls go, and which region signs them: botocore's rules as a small table.

:func:`resolve_sts_endpoint` reproduces what ``botocore.session.Session().create_client('sts')``
chooses for the same profile and environment, without importing botocore:

* region: explicit → ``AWS_DEFAULT_REGION`` → ``AWS_REGION`` → profile ``region``. botocore
  ignores ``AWS_REGION``; we read it as a last-resort env fallback because the cross-SDK
  vectors set it (a deliberate superset). Empty values count as unset.
* endpoint: the configured endpoint (:func:`awsroles.config.endpoints.configured_endpoint`:
  explicit → ``AWS_ENDPOINT_URL_STS`` → ``AWS_ENDPOINT_URL`` → ``[services X]``
  ``sts.endpoint_url`` → profile ``endpoint_url``), else the STS endpoint rules.
* rules: ``sts_regional_endpoints`` (``regional`` default, ``legacy``), FIPS, dual-stack and the
  partitions (aws, aws-cn, aws-us-gov, the iso partitions, aws-eusc).
"""

from __future__ import annotations

import os
import re

from .._record import Record
from ..config.endpoints import configured_endpoint, flag, partition, setting
from ..errors import InvalidConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Tuple

__all__ = ["StsEndpoint", "resolve_sts_endpoint", "LEGACY_GLOBAL_REGIONS", "GLOBAL_URL"]

GLOBAL_URL = "https://sts.amazonaws.com"

#: Regions that ``sts_regional_endpoints = legacy`` sends to the global endpoint.
LEGACY_GLOBAL_REGIONS = frozenset(
    "ap-northeast-1 ap-south-1 ap-southeast-1 ap-southeast-2 aws-global ca-central-1 "
    "eu-central-1 eu-north-1 eu-west-1 eu-west-2 eu-west-3 sa-east-1 us-east-1 us-east-2 "
    "us-west-1 us-west-2".split()
)

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


def _region(
    explicit: Optional[str],
    env: Mapping[str, str],
    profile: Mapping[str, Any],
    profile_name: Optional[str],
) -> Tuple[Optional[str], Optional[str]]:
    where_profile = f"profile '{profile_name}' region" if profile_name else "profile region"
    for value, where in (
        (explicit, "region passed in code"),
        (setting(env, "AWS_DEFAULT_REGION"), "environment variable AWS_DEFAULT_REGION"),
        (setting(env, "AWS_REGION"), "environment variable AWS_REGION"),
        (setting(profile, "region"), where_profile),
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
    """Choose the STS endpoint for the *selected* profile, as botocore does.

    ``profile`` holds the selected profile's values, ``services`` the ``[services X]``
    sections (name -> {"sts": {"endpoint_url": ...}}), ``env`` the environment (default
    ``os.environ``); ``region``/``endpoint_url`` are values passed in code.
    """
    profile = profile or {}
    services = services or {}
    env = os.environ if env is None else env

    region_name, region_source = _region(region, env, profile, profile_name)
    fips = flag(env, "AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint", profile_name)
    dual = flag(env, "AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint", profile_name)
    if region_name and ("fips-" in region_name or "-fips" in region_name):
        # botocore's pseudo regions fips-us-east-1 / us-east-1-fips: strip, turn FIPS on
        region_name = region_name.replace("fips-", "").replace("-fips", "")
        fips = True

    mode_env = "AWS_STS_REGIONAL_ENDPOINTS" in env
    if mode_env:  # present but empty means the default, as in botocore
        mode = (env["AWS_STS_REGIONAL_ENDPOINTS"] or "").strip() or "regional"
    else:
        mode = setting(profile, "sts_regional_endpoints") or "regional"
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
    found = configured_endpoint(
        "sts",
        profile=profile,
        env=env,
        services=services,
        explicit=endpoint_url,
        profile_name=profile_name,
    )
    if found is not None:
        # botocore signs for the region as written here, even the pseudo region aws-global
        return StsEndpoint(found[0], region_name, found[1], region_source)

    # 2. the endpoint rules
    if region_name in (None, "aws-global") and not (fips or dual):
        why = "no region configured" if region_name is None else "region aws-global"
        return StsEndpoint(GLOBAL_URL, "us-east-1", f"global endpoint ({why})", region_source)
    if region_name is None or region_name == "aws-global":
        # botocore builds sts-fips.aws-global.amazonaws.com / sts.aws-global.api.aws here,
        # hosts that do not exist; we use us-east-1, where the global endpoint lives.
        region_name, region_source = "us-east-1", region_source or "default (no region)"

    part, dns, dual_dns = partition(region_name)
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
