"""Everything one resolution needs, gathered once: environment, files, clock, transport,
cache, MFA prompter and options. Heavy pieces (config parse, STS client, HTTP transport) are
built lazily, on first use, so a cache hit touches as little as possible."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Mapping, Optional

from .clock import SYSTEM_CLOCK, Clock

__all__ = ["Context"]

_DEFAULT = object()


class Context:
    def __init__(
        self,
        profile: Optional[str] = None,
        *,
        env: Optional[Mapping[str, str]] = None,
        clock: Clock = SYSTEM_CLOCK,
        transport: Any = None,
        cache: Any = _DEFAULT,
        prompter: Optional[Callable[[str], str]] = None,
        region: Optional[str] = None,
        sts_endpoint_url: Optional[str] = None,
        config: Any = None,
        advisory_timeout: Optional[float] = None,
        mandatory_timeout: Optional[float] = None,
        background_refresh: bool = True,
        lock_timeout: float = 60.0,
        role_options: Optional[Mapping[str, Any]] = None,
        process_timeout: Optional[float] = None,
        process_stderr: Any = None,
    ) -> None:
        self.explicit_profile = profile
        #: The live os.environ when none is given, so refreshes see rotated variables.
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.clock = clock
        self._transport = transport
        self._cache = cache
        self.prompter = prompter
        self.region = region
        self.sts_endpoint_url = sts_endpoint_url
        self._config = config
        self.advisory_timeout = advisory_timeout
        self.mandatory_timeout = mandatory_timeout
        self.background_refresh = background_refresh
        if (
            isinstance(lock_timeout, bool)
            or not isinstance(lock_timeout, (int, float))
            or not (lock_timeout >= 0)
        ):
            from .errors import InvalidConfigError

            raise InvalidConfigError(
                f"lock_timeout must be a number of seconds >= 0, got {lock_timeout!r}.",
                key="lock_timeout",
            )
        self.lock_timeout = float(lock_timeout)
        #: AssumeRole options from code for the selected profile's role (config/options.py).
        self.role_options = role_options
        #: credential_process: seconds before the command is killed (None: 300; 0: no limit),
        #: and where its stderr goes (None: sys.stderr at the time it runs).
        self.process_timeout = process_timeout
        self.process_stderr = process_stderr
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._sts = None

    # --- lazily built pieces ---------------------------------------------------------------

    @property
    def config(self):
        if self._config is None:
            from .config.files import load_shared_config

            self._config = load_shared_config(self.env)
        return self._config

    @property
    def profile_name(self) -> str:
        from .config.paths import selected_profile

        return selected_profile(self.env, self.explicit_profile)

    @property
    def profile_from_env_or_code(self) -> bool:
        """True when a profile was named in code or by AWS_PROFILE/AWS_DEFAULT_PROFILE."""
        return (
            self.explicit_profile is not None
            or "AWS_DEFAULT_PROFILE" in self.env
            or "AWS_PROFILE" in self.env
        )

    @property
    def transport(self):
        if self._transport is None:
            from .transport.base import default_transport

            self._transport = default_transport()
        return self._transport

    @property
    def cache(self):
        if self._cache is _DEFAULT:
            from .cache.store import FileCache, default_cache_dir

            self._cache = FileCache(default_cache_dir(self.env))
        elif self._cache is None:
            from .cache.store import NoCache

            self._cache = NoCache()
        return self._cache

    def sts_client(self):
        """One STS client for every hop, configured from the selected profile and the
        environment (botocore's rule: intermediate profiles' region/endpoint are ignored)."""
        if self._pid != os.getpid():  # forked: the parent's lock may be held forever
            self._lock, self._pid = threading.Lock(), os.getpid()
        with self._lock:
            if self._sts is None:
                from .sts.client import StsClient
                from .sts.endpoint import resolve_sts_endpoint

                endpoint = resolve_sts_endpoint(
                    self.selected_profile_values(),
                    services=getattr(self.config, "services", {}),
                    env=self.env,
                    region=self.region,
                    endpoint_url=self.sts_endpoint_url,
                    profile_name=self.profile_name,
                )
                self._sts = StsClient(endpoint, transport=self.transport, clock=self.clock)
            return self._sts

    def selected_profile_values(self) -> Mapping[str, str]:
        profiles = getattr(self.config, "profiles", {})
        prof = profiles.get(self.profile_name)
        if prof is None:
            return {}
        return prof.values if not isinstance(prof, Mapping) else prof
