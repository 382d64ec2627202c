"""The container provider's configuration, read from the environment: the endpoint URL
(``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` / ``_FULL_URI`` and the plain-http allow-list) and
the ``Authorization`` token (``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` / ``_TOKEN``). No
network, no DNS. See :mod:`awsroles.providers.container`."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .._files import read_small_file
from .._record import Record
from ..errors import CredentialRetrievalError, InvalidConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Tuple
    from urllib.parse import SplitResult

__all__ = [
    "ContainerEndpoint",
    "resolve_endpoint",
    "resolve_container_uri",
    "read_authorization",
    "ALLOWED_HTTP_HOSTS",
]

METHOD = "container-role"
RELATIVE_URI = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
ECS_BASE = "http://169.254.170.2"
ALLOWED_HTTP_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")
_ALLOWED_IPS = frozenset(ipaddress.ip_address(h) for h in ALLOWED_HTTP_HOSTS[:3])
_ALLOWED_TEXT = (
    "a loopback address (127.0.0.0/8, ::1, localhost), 169.254.170.2, 169.254.170.23 "
    "or fd00:ec2::23"
)
MAX_TOKEN_BYTES = 16 * 1024
_BAD_URI_CHARS = re.compile(r"[\x00-\x20\x7f]")


class ContainerEndpoint(Record):
    """Where the credentials come from: ``url`` (as requested), the variable that set it."""

    url: str
    variable: str

    @property
    def display(self) -> str:
        """The URL without its query string (it may carry identifiers)."""
        return self.url.split("?", 1)[0]


# --- configuration ------------------------------------------------------------------------


def resolve_endpoint(env: Mapping[str, str]) -> Optional[ContainerEndpoint]:
    """The endpoint the environment configures, None when neither variable is present.
    Raises :class:`InvalidConfigError` (naming the variable) for a value that cannot be used."""
    if RELATIVE_URI in env:
        return ContainerEndpoint(_relative_url(env[RELATIVE_URI]), RELATIVE_URI)
    if FULL_URI in env:
        return ContainerEndpoint(_check_full_uri(env[FULL_URI]), FULL_URI)
    return None


def resolve_container_uri(env: Mapping[str, str]) -> Optional[str]:
    """The final URI (the ``ecs-tests.json`` vectors' result), or None when not enabled."""
    endpoint = resolve_endpoint(env)
    return endpoint.url if endpoint is not None else None


def _relative_url(value: str) -> str:
    if not value.strip():
        raise InvalidConfigError(
            f"{RELATIVE_URI} is set but empty.",
            key=RELATIVE_URI,
            hint="Unset it, or set it to the path ECS gives, e.g. /v2/credentials/<id>.",
        )
    if _BAD_URI_CHARS.search(value):
        raise InvalidConfigError(
            f"{RELATIVE_URI} contains whitespace or control characters.", key=RELATIVE_URI
        )
    if not value.startswith("/"):
        raise InvalidConfigError(
            f"{RELATIVE_URI} must be a path starting with '/' (it is appended to {ECS_BASE}).",
            key=RELATIVE_URI,
            hint="For a full URL use AWS_CONTAINER_CREDENTIALS_FULL_URI instead.",
        )
    return ECS_BASE + value


def _shown(parts: SplitResult) -> str:
    """scheme://host[:port]/path of a split URL: no user info, no query."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else parts.path


def _check_full_uri(value: str) -> str:
    def bad(message: str, hint: Optional[str] = None) -> InvalidConfigError:
        return InvalidConfigError(message, key=FULL_URI, hint=hint)

    if not value.strip():
        raise bad(f"{FULL_URI} is set but empty.", "Unset it, or set it to a full URL.")
    if _BAD_URI_CHARS.search(value):
        raise bad(f"{FULL_URI} contains whitespace or control characters.")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise bad(f"{FULL_URI} is not a valid URL (bad host or port).") from None
    del port
    shown = _shown(parts)
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in ("http", "https"):
        why = ": the URI did not specify a host" if not parts.hostname else ""
        raise bad(
            f"{FULL_URI} {shown!r} is not a full http:// or https:// URL{why}.",
            "Write e.g. http://127.0.0.1:8080/credentials, or use "
            f"{RELATIVE_URI} for a path on {ECS_BASE}.",
        )
    if parts.username is not None or parts.password is not None:
        raise bad(
            f"{FULL_URI} must not contain a user name or password.",
            f"Put the credential in {TOKEN_FILE} or {TOKEN}.",
        )
    if scheme == "http" and not _http_host_allowed(parts.hostname):
        raise bad(
            f"{FULL_URI} {shown!r} uses plain http to host '{parts.hostname}', which is not "
            f"allowed: plain http is allowed only to {_ALLOWED_TEXT}.",
            "Use https for any other host.",
        )
    return value


def _http_host_allowed(host: str) -> bool:
    host = host.lower()
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: never resolved, never trusted
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_loopback or ip in _ALLOWED_IPS


# --- the Authorization token --------------------------------------------------------------


def read_authorization(env: Mapping[str, str]) -> Tuple[Optional[str], Optional[str]]:
    """``(token, variable it came from)``; ``(None, None)`` when no token is configured.
    The token file wins over the variable and is read every time this is called."""
    if TOKEN_FILE in env:
        return _check_token(_read_token_file(env[TOKEN_FILE]), TOKEN_FILE), TOKEN_FILE
    token = env.get(TOKEN)
    if token:
        return _check_token(token, TOKEN), TOKEN
    return None, None


def _read_token_file(path: str) -> str:
    def fail(message: str, hint: Optional[str] = None) -> CredentialRetrievalError:
        return CredentialRetrievalError(message, provider=METHOD, key=TOKEN_FILE, hint=hint)

    if not path:
        raise fail(f"{TOKEN_FILE} is set but empty.", "Unset it, or point it at the token file.")
    try:
        data = read_small_file(path, MAX_TOKEN_BYTES)
    except FileNotFoundError:
        raise fail(
            f"the authorization token file {path} does not exist.",
            "In EKS it is the pod identity token volume; check the pod's volume mounts.",
        ) from None
    except OSError as exc:
        raise fail(f"cannot read the authorization token file {path} ({exc.strerror}).") from None
    if len(data) > MAX_TOKEN_BYTES:
        raise fail(f"the authorization token file {path} is larger than {MAX_TOKEN_BYTES} bytes.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"the authorization token file {path} is not UTF-8 text.") from None
    token = text.strip(" \t\r\n")
    if not token:
        raise fail(f"the authorization token file {path} is empty.")
    return token


def _check_token(token: str, variable: str) -> str:
    """A token must be a legal HTTP header value (botocore refuses CR and LF as well)."""
    if "\r" in token or "\n" in token:
        raise InvalidConfigError(
            f"the token from {variable} contains a line break (CR or LF), which is not a "
            "legal HTTP header value.",
            key=variable,
            hint="Remove the line break; a token file may end with one newline.",
        )
    if any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F or ord(c) > 0xFF for c in token):
        raise InvalidConfigError(
            f"the token from {variable} contains control or non-Latin-1 characters, which "
            "cannot be sent in an HTTP header.",
            key=variable,
        )
    return token
