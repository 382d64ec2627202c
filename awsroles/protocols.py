"""The seams of awsroles: the interfaces a caller (or a test) can replace.

awsroles' own modules import these for type checking only, so importing awsroles never loads
``typing``; importing this module does. Every one is structural: any object with the methods
fits, no base class needed.

* ``Clock``: the time, the interval clock and sleeping (``clock=``).
* ``Transport``: sends one HTTP request (``transport=``).
* ``CredentialCache``: the store behind the shared cache (``cache=``).
* ``CacheLock``: what ``CredentialCache.lock`` returns.
* ``CredentialSource``: what ``resolve()`` returns and ``install()`` takes.
* ``Prompter``: asks for an MFA code (``prompter=``).

A provider of the chain (``providers=``) is ``awsroles.providers.base.Provider``; the
function a ``RefreshableCredentials`` calls is
``awsroles.refresh.policy.Fetch``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from types import TracebackType

    from .credentials import Credentials
    from .transport.base import HttpRequest, HttpResponse

__all__ = [
    "Clock",
    "Transport",
    "CredentialCache",
    "CacheLock",
    "CredentialSource",
    "Prompter",
]


class Clock(Protocol):
    """``now()``: an aware UTC datetime; ``monotonic()``: seconds for measuring intervals;
    ``sleep()``: used for retry back-off, so tests make it instant."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class Transport(Protocol):
    """Sends one request. Returns the answer whatever its status; raises
    ``awsroles.TransportError`` when no answer arrived."""

    def __call__(self, request: HttpRequest, /) -> HttpResponse: ...


class CacheLock(Protocol):
    """A held (or given up) cache lock: ``with cache.lock(key, timeout) as held:``; ``held``
    is False when the lock could not be had in time and the caller goes on without it."""

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...


class CredentialCache(Protocol):
    """What the resolver needs from a cache. Keys are ``awsroles.cache.key.cache_key()``
    values; entries are the AWS CLI's JSON documents."""

    def load(self, key: str) -> Optional[Dict[str, Any]]: ...

    def store(self, key: str, data: Mapping[str, Any]) -> bool: ...

    def lock(self, key: str, timeout: float = 10.0) -> CacheLock: ...

    def delete(self, key: str) -> bool: ...

    def keys(self) -> List[str]: ...


class CredentialSource(Protocol):
    """Anything that hands out a consistent credential set: ``awsroles.Credentials``
    and ``awsroles.RefreshableCredentials`` both are."""

    @property
    def method(self) -> str: ...

    def get_frozen_credentials(self) -> Credentials: ...


#: Takes the MFA device's serial number, returns the code (or None: no code from this source,
#: ask the next one: ``mfa_process``, then the terminal).
Prompter = Callable[[str], Optional[str]]
