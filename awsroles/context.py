"""What one resolution runs with: the caller's ``Settings`` and the ``Services`` it
talks to, joined in a ``Context`` that every provider receives.

* ``Settings`` is what the caller chose (profile, region, refresh windows, timeouts, role
  options): a frozen record, validated when it is made, so a bad value fails at once with an
  error naming it.
* ``Services`` is what the resolution reads and calls: the environment, the clock, the
  HTTP transport, the credential cache, the shared config files, the MFA prompter. Each
  heavy one is built on first use, so a cache hit touches as little as possible.
* ``Context`` holds both, plus the one STS client every role hop shares.
"""

from __future__ import annotations

import os
import threading

from ._fork import track as reset_after_fork
from ._record import Record
from .clock import SYSTEM_CLOCK
from .errors import InvalidConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Optional, TextIO, Union

    from .config.files import SharedConfig
    from .credentials import Credentials
    from .protocols import Clock, CredentialCache, Prompter, Transport
    from .refresh.policy import Fetch
    from .refresh.sync import RefreshableCredentials
    from .sts.client import StsClient


__all__ = ["Settings", "Services", "Context", "DEFAULT_CACHE"]

#: The lock timeout when none is given (seconds).
DEFAULT_LOCK_TIMEOUT = 60.0
#: Seconds a credential_process may run when no timeout is given: generous, because helpers
#: may prompt for an MFA code or wait for a browser login.
DEFAULT_PROCESS_TIMEOUT = 300.0


class _DefaultCache:
    """The marker for "the AWS CLI's cache directory" (``cache=None`` means no cache)."""

    def __repr__(self) -> str:
        return "DEFAULT_CACHE"


DEFAULT_CACHE: Any = _DefaultCache()


def _seconds(value: object, key: str, *, optional: bool) -> Optional[float]:
    """A number of seconds >= 0 (None allowed when ``optional``), else InvalidConfigError."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidConfigError(f"{key} must be a number of seconds >= 0, got {value!r}.", key=key)
    return float(value)


class Settings(Record):
    """What the caller chose, validated when made. Every field has a default.

    ``profile``: the profile named in code (None: ``AWS_DEFAULT_PROFILE``, ``AWS_PROFILE``,
    then ``default``). ``region`` and ``sts_endpoint_url``: where STS calls go (None: the
    profile and environment decide). ``advisory_timeout`` and ``mandatory_timeout``: the
    refresh windows in seconds (None: chosen from the credentials' lifetime, and 60 s).
    ``background_refresh``: refresh inside the advisory window on a background thread (False:
    inline, on the caller's thread). ``lock_timeout``: seconds to wait for another process's
    refresh of the same cache entry. ``role_options``: AssumeRole options for the selected
    profile's role (see ``awsroles.config.options.ROLE_OPTIONS``). ``process_timeout``:
    seconds a ``credential_process`` may run (None: 300; 0 or infinity: no limit).
    """

    profile: Optional[str] = None
    region: Optional[str] = None
    sts_endpoint_url: Optional[str] = None
    advisory_timeout: Optional[float] = None
    mandatory_timeout: Optional[float] = None
    background_refresh: bool = True
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    role_options: Optional[Mapping[str, Any]] = None
    process_timeout: Optional[float] = None

    def __post_init__(self) -> None:
        check = object.__setattr__
        check(self, "lock_timeout", _seconds(self.lock_timeout, "lock_timeout", optional=False))
        for key in ("advisory_timeout", "mandatory_timeout"):
            check(self, key, _seconds(getattr(self, key), key, optional=True))
        check(self, "process_timeout", _process_timeout(self.process_timeout))
        if self.role_options is not None:
            check(self, "role_options", _role_options(self.role_options))

    @property
    def process_time_limit(self) -> Optional[float]:
        """Seconds before a ``credential_process`` is killed; None: no limit."""
        value = self.process_timeout
        if value is None:
            return DEFAULT_PROCESS_TIMEOUT
        if value <= 0 or value == float("inf"):
            return None
        return value


def _process_timeout(value: object) -> Optional[float]:
    if value is None:
        return None
    try:
        number = float(value) if isinstance(value, (int, float, str)) else float("nan")
    except ValueError:
        number = float("nan")
    if isinstance(value, bool) or number != number:
        raise InvalidConfigError(
            f"process_timeout must be a number of seconds, got {value!r}.", key="process_timeout"
        )
    return number


def _role_options(value: object) -> Mapping[str, Any]:
    from types import MappingProxyType

    from .config.options import checked_names

    return MappingProxyType(checked_names(value))


class Services:
    """What a resolution reads and calls. Pass only what you replace (tests pass a frozen
    clock, an in-memory transport, a ``MemoryCache``); the rest is the real thing:

    ``env``: the environment (the live ``os.environ`` when None, so refreshes see rotated
    variables); ``clock``; ``transport`` (HTTP; None: the default transport); ``cache``
    (``DEFAULT_CACHE``: the AWS CLI's ``~/.aws/cli/cache``; None: no cache); ``prompter``
    (asks for an MFA code; None: the terminal); ``process_stderr`` (where a
    ``credential_process`` writes its stderr; None: ``sys.stderr``); ``config`` (the parsed
    shared files; None: read them from the paths the environment names).
    """

    def __init__(
        self,
        *,
        env: Optional[Mapping[str, str]] = None,
        clock: Optional[Clock] = None,
        transport: Optional[Transport] = None,
        cache: Optional[CredentialCache] = DEFAULT_CACHE,
        prompter: Optional[Prompter] = None,
        process_stderr: Optional[TextIO] = None,
        config: Optional[SharedConfig] = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.clock: Clock = SYSTEM_CLOCK if clock is None else clock
        self.prompter = prompter
        self.process_stderr = process_stderr
        self._transport = transport
        self._cache: Union[CredentialCache, None, _DefaultCache] = cache
        self._config = config

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            from .transport import default_transport

            self._transport = default_transport()
        return self._transport

    @property
    def cache(self) -> CredentialCache:
        cache = self._cache
        if isinstance(cache, _DefaultCache):
            from .cache.key import default_cache_dir
            from .cache.store import FileCache

            cache = self._cache = FileCache(default_cache_dir(self.env))
        elif cache is None:
            from .cache.store import NoCache

            cache = self._cache = NoCache()
        return cache

    @property
    def config(self) -> SharedConfig:
        if self._config is None:
            from .config.files import load_shared_config

            self._config = load_shared_config(self.env)
        return self._config

    def __repr__(self) -> str:
        return f"Services(clock={self.clock!r}, transport={self._transport!r})"


class Context:
    """One resolution: ``settings`` (what the caller chose) and ``services`` (what it talks
    to), the selected profile, and the STS client every role hop shares."""

    def __init__(
        self, settings: Optional[Settings] = None, services: Optional[Services] = None
    ) -> None:
        self.settings = Settings() if settings is None else settings
        self.services = Services() if services is None else services
        self._lock = threading.Lock()
        self._sts: Optional[StsClient] = None
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Context({self.settings!r}, {self.services!r})"

    # the shortcuts every provider uses
    @property
    def env(self) -> Mapping[str, str]:
        return self.services.env

    @property
    def clock(self) -> Clock:
        return self.services.clock

    @property
    def config(self) -> SharedConfig:
        return self.services.config

    @property
    def profile_name(self) -> str:
        """The selected profile: named in code, else ``AWS_DEFAULT_PROFILE``, ``AWS_PROFILE``,
        else ``default``."""
        from .config.paths import selected_profile

        return selected_profile(self.env, self.settings.profile)

    @property
    def profile_from_env_or_code(self) -> bool:
        """True when a profile was named in code or by AWS_PROFILE/AWS_DEFAULT_PROFILE."""
        env = self.env
        return (
            self.settings.profile is not None
            or "AWS_DEFAULT_PROFILE" in env
            or "AWS_PROFILE" in env
        )

    def selected_profile_values(self) -> Mapping[str, str]:
        """The selected profile's merged values ({} when it does not exist)."""
        found = self.config.profiles.get(self.profile_name)
        return {} if found is None else found.values

    def refreshable(
        self,
        fetch: Fetch,
        *,
        method: str,
        label: str,
        initial: Optional[Credentials] = None,
        forget: Optional[Callable[[str], None]] = None,
    ) -> RefreshableCredentials:
        """Credentials refreshed by ``fetch``, with this resolution's clock, refresh windows
        and background setting; ``forget`` drops an invalidated set from the cache."""
        from .refresh.sync import RefreshableCredentials

        settings = self.settings
        return RefreshableCredentials(
            fetch,
            method=method,
            clock=self.clock,
            advisory_timeout=settings.advisory_timeout,
            mandatory_timeout=settings.mandatory_timeout,
            initial=initial,
            background_refresh=settings.background_refresh,
            label=label,
            forget=forget,
        )

    def sts_client(self) -> StsClient:
        """One STS client for every hop, configured from the selected profile and the
        environment (botocore's rule: intermediate profiles' region and endpoint are ignored)."""
        with self._lock:
            if self._sts is None:
                from .sts.client import StsClient
                from .sts.endpoint import resolve_sts_endpoint

                endpoint = resolve_sts_endpoint(
                    self.selected_profile_values(),
                    services=self.config.services,
                    env=self.env,
                    region=self.settings.region,
                    endpoint_url=self.settings.sts_endpoint_url,
                    profile_name=self.profile_name,
                )
                self._sts = StsClient(endpoint, transport=self.services.transport, clock=self.clock)
            return self._sts
