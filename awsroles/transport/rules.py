"""The rules every HTTP request follows, whichever adapter sends it: which proxy (if any),
which CA certificates, and whether redirects are followed. :func:`route` decides; the
adapters (:mod:`.stdlib`, :mod:`.via_requests`) only carry the decision out.

* **Proxy**: ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``ALL_PROXY`` in either case (the lower-case
  name wins, as in urllib), minus the hosts ``NO_PROXY`` exempts; on macOS and Windows, for
  the process environment, the system's proxy settings too (what botocore and requests read
  through ``urllib.request``). ``.netrc`` is never read (botocore does not read it).
* **CA certificates**: the first of ``AWS_CA_BUNDLE`` (botocore's variable),
  ``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` that is set, a file or a directory; else
  certifi's bundle, as botocore and requests use by default.
* **Redirects** are followed only when the request asks to (no AWS credential endpoint
  redirects).
* ``trust_env=False`` ignores all of the environment: the request goes direct, verified by
  certifi's bundle. The container provider asks for it, so its token never reaches a proxy.
* **Deadline**: each attempt, from the first connection to the last byte of the body, ends
  within :func:`attempt_seconds` of its request's timeout (the connect timeout plus the read
  timeout). A read timeout alone bounds each wait for a byte, so a peer that sends one byte
  every few seconds would otherwise hold a resolution, and the cache lock it holds, for hours.
"""

from __future__ import annotations

import os
import sys

from .._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Mapping, Optional, Tuple, Union

__all__ = ["Route", "route", "ca_bundle", "attempt_seconds", "CA_BUNDLE_VARIABLES"]

#: Environment variables naming the CA bundle, first set wins: botocore's, then requests'.
CA_BUNDLE_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
#: Proxy variables (matched case-insensitively), by the scheme they serve.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class Route(Record):
    """How one request travels. ``proxy``: the proxy URL, or None (direct). ``ca``:
    ``(variable, path)`` of the CA bundle the environment names, or None (certifi's).
    ``follow_redirects``: as the request asked."""

    proxy: Optional[str] = None
    ca: Optional[Tuple[str, str]] = None
    follow_redirects: bool = False

    @property
    def direct(self) -> bool:
        """True when the standard library can send it (no proxy, no redirects to follow)."""
        return self.proxy is None and not self.follow_redirects


def attempt_seconds(timeout: Union[float, Tuple[float, float]]) -> float:
    """The longest one attempt may take, connecting and reading the whole answer included:
    the connect timeout plus the read timeout (a single number is both)."""
    if isinstance(timeout, tuple):
        return float(timeout[0]) + float(timeout[1])
    return 2.0 * float(timeout)


def ca_bundle(env: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """(variable, path) of the CA bundle ``env`` names, or None (certifi's bundle)."""
    for name in CA_BUNDLE_VARIABLES:
        value = env.get(name)
        if value:
            return name, value
    return None


def route(
    url: str,
    env: Mapping[str, str],
    *,
    trust_env: bool = True,
    follow_redirects: bool = False,
) -> Route:
    """The route for a request to ``url`` under ``env`` (see the module docstring)."""
    if not trust_env:
        return Route(follow_redirects=follow_redirects)
    return Route(_proxy(url, env), ca_bundle(env), follow_redirects)


def _proxy(url: str, env: Mapping[str, str]) -> Optional[str]:
    system = env is os.environ and _system_proxies()
    if not system and not any(k.lower() in _PROXY_VARIABLES and v for k, v in env.items()):
        return None  # the common case, decided without importing urllib
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.netloc.rpartition("@")[2]
    if system:
        from urllib.request import getproxies, proxy_bypass

        proxies: Dict[str, str] = getproxies()
        bypassed = bool(proxy_bypass(host))
    else:
        # typeshed leaves this urllib function out; it is there from Python 3.0 on
        from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

        proxies = _from_variables(env)
        no_proxy = proxies.pop("no", None)
        bypassed = no_proxy is not None and bool(proxy_bypass_environment(host, {"no": no_proxy}))
    chosen = proxies.get(scheme) or proxies.get("all")
    return None if bypassed or not chosen else chosen


def _from_variables(env: Mapping[str, str]) -> Dict[str, str]:
    """``{"http": ..., "https": ..., "all": ..., "no": ...}`` from ``*_proxy`` variables in
    either case; the lower-case name wins, as in ``urllib.request.getproxies_environment``."""
    values: Dict[str, str] = {}
    for name, value in env.items():
        low = name.lower()
        if value and low.endswith("_proxy") and (name == low or low not in values):
            values[low] = value
    return {name[: -len("_proxy")]: value for name, value in values.items()}


_SYSTEM_PROXIES: Optional[bool] = None


def _system_proxies() -> bool:
    """True when the system (not the environment) names a proxy: macOS and Windows only, read
    once per process. Elsewhere ``urllib.request.getproxies()`` reads the environment only."""
    global _SYSTEM_PROXIES
    if _SYSTEM_PROXIES is None:
        if sys.platform not in ("darwin", "win32"):
            _SYSTEM_PROXIES = False
        else:  # pragma: no cover - exercised on macOS and Windows
            try:
                from urllib.request import getproxies

                _SYSTEM_PROXIES = any(k != "no" and v for k, v in getproxies().items())
            except Exception:
                _SYSTEM_PROXIES = False
    return _SYSTEM_PROXIES
