"""One exception tree for everything awsroles raises.

Every message says *where* (file, line, profile, key, role) and *what to do*. No message, repr
or attribute ever carries a secret: callers pass names and locations, never values of secret
keys. ``AwsRolesError.__str__`` assembles the location prefix so that all errors read alike:

    ~/.aws/config, line 12, profile 'dev', key 'duration_seconds': must be a whole number
    of seconds, got '1h'. Write e.g. duration_seconds = 3600.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple, Type


__all__ = [
    "AwsRolesError",
    "ConfigError",
    "ConfigParseError",
    "ProfileNotFoundError",
    "InvalidConfigError",
    "PartialCredentialsError",
    "CredentialSourceError",
    "SourceProfileCycleError",
    "NoCredentialsError",
    "CredentialRetrievalError",
    "ServiceError",
    "TransportError",
    "STSError",
    "AccessDeniedError",
    "ExpiredTokenError",
    "RegionDisabledError",
    "ThrottlingError",
    "STSServiceError",
    "MalformedResponseError",
    "MFAError",
    "MFADeferred",
    "RefreshError",
]


class AwsRolesError(Exception):
    """Base class of every error awsroles raises on purpose."""

    #: True when retrying later may succeed (connection errors, 5xx, throttling).
    recoverable = False

    def __init__(
        self,
        message: str,
        *,
        file: Optional[str] = None,
        line: Optional[int] = None,
        profile: Optional[str] = None,
        key: Optional[str] = None,
        hint: Optional[str] = None,
        cli_hint: Optional[str] = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.profile = profile
        self.key = key
        self.hint = hint
        #: The hint for someone at the ``awsroles`` command line, where the remedy is a flag
        #: (``--mfa-token``) rather than a Python keyword (``prompter=``); None: ``hint``.
        self.cli_hint = cli_hint
        super().__init__(self._render())

    def _where(self) -> list[str]:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.profile is not None:
            parts.append(f"profile '{self.profile}'")
        if self.key:
            parts.append(f"key '{self.key}'")
        return parts

    def _render(self, hint: Optional[str] = None) -> str:
        where = ", ".join(self._where())
        text = f"{where}: {self.message}" if where else self.message
        hint = hint or self.hint
        if hint:
            text = f"{text} {hint}"
        return printable(text)  # one line, whatever the values it quotes hold

    def for_command_line(self) -> str:
        """The message as the ``awsroles`` command prints it: its hint names flags."""
        return self._render(getattr(self, "cli_hint", None))

    def __reduce__(self) -> Tuple[Any, ...]:  # picklable (multiprocessing, pytest-xdist)
        return (_rebuild, (type(self), self.__dict__.copy()))


if TYPE_CHECKING:
    from typing import TypeVar

    E = TypeVar("E", bound=AwsRolesError)


def retyped(exc: AwsRolesError, cls: Type[E]) -> E:
    """``exc`` as an error of class ``cls``: the same message and fields."""
    return _rebuild(cls, exc.__dict__.copy())  # type: ignore[return-value]


def _rebuild(cls: Type[AwsRolesError], state: Dict[str, Any]) -> AwsRolesError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


# --- configuration ------------------------------------------------------------------------


class ConfigError(AwsRolesError):
    """The shared config/credentials files or the environment are not usable as written."""


class ConfigParseError(ConfigError):
    """A config or credentials file is not valid INI as the AWS SDKs define it."""


class ProfileNotFoundError(ConfigError):
    """The selected (or a referenced) profile does not exist in either file."""


class InvalidConfigError(ConfigError):
    """A profile's keys contradict each other or hold invalid values."""


class PartialCredentialsError(ConfigError):
    """Some but not all of the keys that make up a credential set are present."""


class CredentialSourceError(InvalidConfigError):
    """``credential_source`` names a source that does not exist or cannot be combined."""


class SourceProfileCycleError(InvalidConfigError):
    """``source_profile`` links form a loop. ``chain`` holds the profiles in visit order."""

    def __init__(self, message: str, *, chain: tuple[str, ...] = (), **kw: Any) -> None:
        self.chain = tuple(chain)
        super().__init__(message, **kw)


# --- resolution ---------------------------------------------------------------------------


class NoCredentialsError(AwsRolesError):
    """No provider in the chain could supply credentials."""


class CredentialRetrievalError(AwsRolesError):
    """A provider applied but could not fetch credentials."""

    def __init__(self, message: str, *, provider: Optional[str] = None, **kw: Any) -> None:
        self.provider = provider
        if provider and not message.startswith(provider):
            message = f"{provider}: {message}"
        super().__init__(message, **kw)


class ServiceError(CredentialRetrievalError):
    """A credential service other than STS (the SSO portal, the sign-in service) refused or
    kept failing. ``status`` and ``code`` are the service's when it answered;
    ``recoverable`` when trying later may work. Subclasses name the provider."""

    PROVIDER = ""

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: str = "",
        recoverable: bool = False,
        **kw: Any,
    ) -> None:
        self.status = status
        self.code = code
        self.recoverable = recoverable
        kw.setdefault("provider", self.PROVIDER or None)
        super().__init__(message, **kw)


class TransportError(CredentialRetrievalError):
    """The HTTP request did not complete: connection refused/reset, DNS, timeout."""

    recoverable = True

    def __init__(
        self, message: str, *, url: Optional[str] = None, timeout: bool = False, **kw: Any
    ) -> None:
        self.url = url
        self.timeout = timeout
        super().__init__(message, **kw)


class MalformedResponseError(CredentialRetrievalError):
    """An endpoint answered with something that is not the expected document."""

    recoverable = True


# --- STS ----------------------------------------------------------------------------------


class STSError(CredentialRetrievalError):
    """STS answered with an error. ``code`` and ``sts_message`` are STS's own words."""

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        sts_message: Optional[str] = None,
        status: Optional[int] = None,
        role_arn: Optional[str] = None,
        operation: str = "AssumeRole",
        **kw: Any,
    ) -> None:
        self.code = code
        self.sts_message = sts_message
        self.status = status
        self.role_arn = role_arn
        self.operation = operation
        super().__init__(message, **kw)


class AccessDeniedError(STSError):
    """STS refused the call (wrong trust policy, missing or wrong MFA, wrong external id)."""


class ExpiredTokenError(STSError):
    """The source credentials (or the web identity token) have expired."""


class SourceRejected(ExpiredTokenError):
    """A role hop's source credentials were rejected as expired while an outer hop was already
    fetching a chain again: the outer hop fetches that source and then this hop, one level at
    a time. Never reaches a caller of awsroles."""


class RegionDisabledError(STSError):
    """STS is not activated in the region the call went to."""


class ThrottlingError(STSError):
    """STS kept throttling after every retry."""

    recoverable = True


class STSServiceError(STSError):
    """STS kept failing with a 5xx after every retry."""

    recoverable = True


# --- MFA and refresh ----------------------------------------------------------------------


class MFAError(AwsRolesError):
    """An MFA code was needed and could not be obtained (no terminal, empty code)."""


class MFADeferred(MFAError):
    """Raised instead of prompting inside a background (advisory) refresh."""


class RefreshError(AwsRolesError):
    """Refreshed credentials were unusable (for example already expired)."""


# --- showing values in messages -----------------------------------------------------------


def printable(text: str) -> str:
    """``text`` as one line that cannot act on a terminal: every character that is not
    printable (control characters, newlines, unpaired surrogates, line and paragraph
    separators) is written as a ``\\x..``/``\\u..`` escape. For values read from files and
    servers, which end up in messages, ``explain`` and the command's output."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def safe_url(url: str) -> str:
    """The URL for messages: without its query string (it may carry identifiers) and without
    ``user:password@`` (a URL may carry credentials)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # not even a scheme (a bad endpoint_url): the same rule for the whole text
        scheme, rest = "", url
    if "@" in rest:  # a password may hold "/" or "?": cut through the last "@"
        rest = rest.rpartition("@")[2]  # (a path or query with "@" loses more: harmless)
    return (scheme + sep + rest).split("?", 1)[0]
