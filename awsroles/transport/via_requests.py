"""A transport on ``requests``: what the default transport hands a request to when its route
(:func:`~awsroles.transport.rules.route`) goes through a proxy or follows redirects. Users may
also pass it as ``transport=`` themselves (for example with their own ``requests.Session``);
every request then goes through requests, on the same routes.
"""

from __future__ import annotations

import os

from ..errors import TransportError, safe_url
from .base import HttpRequest, HttpResponse
from .body import CHUNK, collect
from .rules import route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Union

    import requests

    from .rules import Route

__all__ = ["RequestsTransport"]


class RequestsTransport:
    """A transport on one ``requests.Session`` (connection reuse). ``env`` (default
    ``os.environ``) and ``trust_env`` decide the route as for the default transport; the
    route's proxy and CA bundle are passed to requests explicitly, and a session made here
    reads nothing from the environment itself (no ``.netrc``, no second proxy rule)."""

    def __init__(
        self,
        session: Optional[requests.Session] = None,
        *,
        trust_env: bool = True,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self._session = session
        self._trust_env = trust_env
        self._env: Mapping[str, str] = os.environ if env is None else env

    def _get_session(self) -> requests.Session:
        if self._session is None:
            import requests

            session = requests.Session()
            session.trust_env = False  # the route decides proxies and certificates
            self._session = session
        return self._session

    def __call__(self, request: HttpRequest) -> HttpResponse:
        way = route(
            request.url,
            self._env,
            trust_env=self._trust_env,
            follow_redirects=request.allow_redirects,
        )
        return self.send(request, way)

    def send(self, request: HttpRequest, way: Route) -> HttpResponse:
        """Send ``request`` on the route ``way``."""
        import requests

        session = self._get_session()
        proxies = {"http": way.proxy, "https": way.proxy} if way.proxy else {}
        verify: Union[bool, str] = way.ca[1] if way.ca else True
        try:
            resp = session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=request.timeout,
                allow_redirects=way.follow_redirects,
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
