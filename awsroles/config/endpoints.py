"""Where a service's calls go when the configuration says so, as botocore decides it for every
client: one precedence for STS, the SSO portal and sso-oidc alike.

:func:`configured_endpoint`: an endpoint passed in code, then ``AWS_ENDPOINT_URL_<SERVICE>``,
then ``AWS_ENDPOINT_URL``, then the profile's ``[services X]`` section (``<service>.endpoint_url``),
then the profile's ``endpoint_url``; every configured source (not the one from code) is skipped
when ``ignore_configured_endpoint_urls`` is true. Without one, each service applies its own
endpoint rules with the DNS suffixes of :func:`partition`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..errors import InvalidConfigError, safe_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Tuple

__all__ = [
    "configured_endpoint",
    "partition",
    "flag",
    "check_url",
    "service_endpoint_url",
    "setting",
]

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


def partition(region: str) -> Tuple[str, str, str]:
    """``(partition name, DNS suffix, dual-stack DNS suffix)`` for ``region``."""
    for name, regex, pseudo, dns, dual in _PARTITIONS:
        if region in pseudo or re.match(regex, region):
            return name, dns, dual
    name, _, _, dns, dual = _PARTITIONS[0]
    return name, dns, dual


def setting(mapping: Mapping[str, Any], key: str) -> Optional[str]:
    """``mapping[key]`` stripped; None when absent or blank."""
    value = mapping.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def flag(
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
        value, where = setting(profile, key) or "", None
    if value.lower() in ("true", "false", ""):
        return value.lower() == "true"
    if where is None:
        raise InvalidConfigError(
            f"must be true or false, got {value!r}.", profile=profile_name, key=key
        )
    raise InvalidConfigError(f"{where} must be true or false, got {value!r}.")


def check_url(
    url: str, where: str, profile_name: Optional[str] = None, key: Optional[str] = None
) -> str:
    """``url`` when it is an http(s) URL with a host; else InvalidConfigError naming
    ``where`` (the value shown without any ``user:password@``)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
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
    sub-property text ``"\\nendpoint_url = ..."``), or None."""
    entry = (services.get(section) or {}).get(service)
    if isinstance(entry, str):
        parsed = {}
        for line in entry.splitlines():
            name, sep, value = line.partition("=")
            if sep:
                parsed[name.strip()] = value.strip()
        entry = parsed
    if not isinstance(entry, dict):
        return None
    return setting(entry, "endpoint_url")


def configured_endpoint(
    service: str,
    *,
    profile: Mapping[str, Any],
    env: Mapping[str, str],
    services: Mapping[str, Any],
    explicit: Optional[str] = None,
    profile_name: Optional[str] = None,
) -> Optional[Tuple[str, str]]:
    """``(url, where it came from)`` of the endpoint configured for ``service`` (``sts``,
    ``sso``, ``sso-oidc``; see the module docstring), or None when none is."""
    if explicit:
        where = "endpoint_url passed in code"
        return check_url(explicit, where), where
    if flag(
        env,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        profile,
        "ignore_configured_endpoint_urls",
        profile_name,
    ):
        return None
    for name in (f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}", "AWS_ENDPOINT_URL"):
        url = setting(env, name)
        if url:
            where = f"environment variable {name}"
            return check_url(url, where), where
    section = setting(profile, "services")
    if section:  # looked up only when no env var decided (botocore does the same)
        if section not in services:
            raise InvalidConfigError(
                f"names a [services {section}] section that does not exist.",
                profile=profile_name,
                key="services",
                hint=f"Add [services {section}] to the config file or remove the key.",
            )
        key = service.replace("-", "_")
        url = service_endpoint_url(services, section, key)
        if url:
            where = f"[services {section}] {key}.endpoint_url"
            return check_url(url, where), where
    url = setting(profile, "endpoint_url")
    if url:
        where = f"profile '{profile_name}' endpoint_url" if profile_name else "endpoint_url"
        return check_url(url, where, profile_name, "endpoint_url"), where
    return None
