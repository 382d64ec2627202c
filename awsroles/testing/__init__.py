"""Test kit for awsroles and for users' own tests.

- :class:`FakeSTS` (``awsroles.testing.fake_sts``): a strict local STS on 127.0.0.1, or
  in memory through ``FakeSTS().transport()``.
- :class:`FrozenClock` (``awsroles.testing.clock``): time that moves only when told.
- :class:`StaticProvider`, :class:`FakeProvider` (``awsroles.testing.providers``).
- :class:`FakeContainerEndpoint` (``awsroles.testing.fake_container``): the ECS/EKS
  container credential endpoint, authorization enforced.

Imported lazily, so ``import awsroles.testing`` costs nothing until a name is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeSTS", "FrozenClock", "StaticProvider", "FakeProvider", "FakeContainerEndpoint"]

_LAZY = {
    "FakeSTS": "awsroles.testing.fake_sts",
    "FrozenClock": "awsroles.testing.clock",
    "StaticProvider": "awsroles.testing.providers",
    "FakeProvider": "awsroles.testing.providers",
    "FakeContainerEndpoint": "awsroles.testing.fake_container",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'awsroles.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
