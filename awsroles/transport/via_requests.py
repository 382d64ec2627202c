"""A transport on ``requests``: what the default transport hands over when a proxy applies
(from the environment, or the system settings on macOS and Windows) or a request asks to
follow redirects. Users may also pass it as ``transport=`` themselves (for example with their
own ``requests.Session``).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ..errors import TransportError
from .base import HttpRequest, HttpResponse, ca_bundle, safe_url
from .body import CHUNK, collect

__all__ = ["RequestsTransport"]


class RequestsTransport:
    """A transport on one shared ``requests.Session`` (connection reuse). With ``trust_env``
    (the default) requests applies the proxy variables, ``NO_PROXY`` and its CA-bundle
    variables; ``AWS_CA_BUNDLE``, when set, is the CA bundle (as in botocore). ``env``, when
    given, is read for these variables instead of ``os.environ``."""

    def __init__(self, session=None, *, trust_env: bool = True, env=None) -> None:
        self._session = session
        self._trust_env = trust_env
        self._env = env if trust_env else None

    def _get_session(self):
        if self._session is None:
            import requests

            s = requests.Session()
            s.trust_env = self._trust_env and self._env is None  # else: _from_env()
            self._session = s
        return self._session

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import requests

        session = self._get_session()
        proxies = None
        verify = None
        if self._env is not None:
            proxies, verify = _from_env(self._env, request.url)
        elif self._trust_env:  # the same variables, in the same order, as the stdlib path
            bundle = ca_bundle(os.environ)
            verify = bundle[1] if bundle else None
        try:
            resp = session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=request.timeout,
                allow_redirects=request.allow_redirects,
                stream=True,
                verify=verify,
                proxies=proxies,
            )
        except requests.exceptions.Timeout:
            raise TransportError(
                f"timed out after {request.timeout}s talking to {safe_url(request.url)}",
                url=safe_url(request.url),
                timeout=True,
            ) from None  # its text can quote request headers or bodies
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"could not connect to {safe_url(request.url)} ({type(exc).__name__})",
                url=safe_url(request.url),
            ) from None  # its text can quote request headers or bodies
        try:
            body = collect(resp.iter_content(CHUNK), request)
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"connection to {safe_url(request.url)} broke while reading the response "
                f"({type(exc).__name__})",
                url=safe_url(request.url),
            ) from None  # its text can quote request headers or bodies
        finally:
            resp.close()
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return HttpResponse(status=resp.status_code, headers=headers, body=body)


def _from_env(env, url: str):
    """The proxies and CA bundle requests would take from ``os.environ``, taken from ``env``
    (lower-case names win, as in urllib); ``NO_PROXY`` applies."""
    from urllib.request import proxy_bypass_environment

    values = {}
    for name, value in env.items():
        low = name.lower()
        if value and (name == low or low not in values):
            values[low] = value
    proxies = {n[:-6]: v for n, v in values.items() if n.endswith("_proxy") and n != "no_proxy"}
    host = urlsplit(url).netloc.rpartition("@")[2]
    if proxies and "no_proxy" in values:
        if proxy_bypass_environment(host, {"no": values["no_proxy"]}):
            proxies = {}
    bundle = ca_bundle(env)
    return proxies, (bundle[1] if bundle else None)
