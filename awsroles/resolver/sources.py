"""The base of a plan as a credential object: static keys, ``credential_source``, web
identity, ``credential_process``, SSO. Each is lazy: nothing runs, reads or calls out until
its credentials are first needed, which for a role chain is only when STS must be called."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable

from ..config.model import NamedSource, ProcessSource, SsoSource, StaticKeys, WebIdentitySource
from ..credentials import Credentials
from ..errors import CredentialRetrievalError

__all__ = ["base_source", "Lazy"]


_LAZIES: weakref.WeakSet[Lazy] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lazy in list(_LAZIES):  # a lock held by a parent's thread at fork() is never released
        lazy._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Lazy:
    """A credential object built on first use by ``load()`` (which returns Credentials or a
    RefreshableCredentials); afterwards every call goes to that object."""

    def __init__(self, load: Callable[[], Any], label: str) -> None:
        self._load = load
        self._label = label
        self._obj: Any = None
        self._lock = threading.Lock()
        _LAZIES.add(self)

    def get(self) -> Any:
        if self._obj is None:
            with self._lock:
                if self._obj is None:
                    self._obj = self._load()
        return self._obj

    def get_frozen_credentials(self) -> Credentials:
        return self.get().get_frozen_credentials()

    def __repr__(self) -> str:
        return f"Lazy({self._label}, {self._obj!r})"


def base_source(base: Any, ctx: Any) -> Any:
    """A credential object (with ``get_frozen_credentials``) for the plan's base."""
    if isinstance(base, StaticKeys):
        return base.credentials()
    if isinstance(base, WebIdentitySource):
        from ..providers.web_identity import web_identity_credentials

        return web_identity_credentials(base, ctx)
    if isinstance(base, NamedSource):
        return Lazy(lambda: _named(base, ctx), f"credential_source {base.name}")
    if isinstance(base, ProcessSource):
        from ..providers.process import process_credentials

        return Lazy(lambda: process_credentials(base, ctx), "credential_process")
    if isinstance(base, SsoSource):
        from ..providers.sso import sso_credentials

        return Lazy(lambda: sso_credentials(base, ctx), "sso")
    raise TypeError(f"unknown plan base {type(base).__name__}")


_NAMED = {
    "Environment": ("awsroles.providers.env", "EnvProvider", "AWS_ACCESS_KEY_ID is not set"),
    "EcsContainer": (
        "awsroles.providers.container",
        "ContainerProvider",
        "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI "
        "is set",
    ),
}


def _named(source: NamedSource, ctx: Any) -> Any:
    if source.name == "Ec2InstanceMetadata":
        from ..providers.imds import ImdsProvider

        return ImdsProvider().load_or_raise(ctx)  # raises the real reason, never None
    import importlib

    module, cls, why = _NAMED[source.name]
    creds = getattr(importlib.import_module(module), cls)().load(ctx)
    if creds is None:
        raise CredentialRetrievalError(
            f"credential_source = {source.name}, but no credentials came from it ({why}).",
            provider=source.name,
            profile=source.profile,
            key="credential_source",
        )
    return creds
