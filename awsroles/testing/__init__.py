"""Test kit for awsroles and for users' own tests.

- ``FakeSTS`` (``awsroles.testing.fake_sts``): a strict local STS on 127.0.0.1, or
  in memory through ``FakeSTS().transport()``.
- ``local_aws()``, ``LocalAWS`` (``awsroles.testing.local``): a local STS (and IMDS,
  container endpoint, SSO portal when asked) with a throwaway HOME and the environment that
  points at them, in one ``with`` block.
- ``FrozenClock``, ``AdvancingClock`` (``awsroles.testing.clock``): time that moves
  only when told, and time that runs by itself (sped up if you like).
- ``StaticProvider``, ``FakeProvider`` (``awsroles.testing.providers``).
- ``FakeContainerEndpoint`` (``awsroles.testing.fake_container``): the ECS/EKS
  container credential endpoint, authorization enforced.
- ``FakeIMDS`` (``awsroles.testing.fake_imds``): EC2 instance metadata with IMDSv2
  tokens enforced.
- ``FakeSSOPortal`` (``awsroles.testing.fake_sso``) and ``write_token_cache()``
  (``awsroles.testing.sso_cache``): the SSO portal and a token cache shaped like the AWS CLI
  v2's.
- ``FakeSignin`` (``awsroles.testing.fake_signin``) and ``write_login_cache()``
  (``awsroles.testing.login_cache``): the sign-in token endpoint of ``aws login`` sessions,
  DPoP proofs verified, and a session file shaped like the AWS CLI's.
- ``FakeFederation`` (``awsroles.testing.fake_federation``): the console federation endpoint
  (``getSigninToken``) behind ``awsroles console``.
- ``SlowPeer`` (``awsroles.testing.slow_peer``): a server that sends its answer a byte at a
  time (or stalls after the headers), for testing deadlines.
- ``ReplayTransport`` (``awsroles.testing.replay``): serves recorded HTTP traffic in
  order and checks each request against the recording.
- ``awsroles.testing.pytest_plugin``: pytest fixtures ``awsroles_local``, ``awsroles_sts`` and
  ``frozen_clock``, loaded automatically (the ``awsroles`` plugin) once awsroles is installed.

Imported lazily, so ``import awsroles.testing`` costs nothing until a name is used.
"""

from __future__ import annotations

from typing import Any, List

__all__ = [
    "local_aws",
    "LocalAWS",
    "FakeSTS",
    "FrozenClock",
    "AdvancingClock",
    "StaticProvider",
    "FakeProvider",
    "FakeContainerEndpoint",
    "FakeIMDS",
    "FakeSSOPortal",
    "write_token_cache",
    "FakeSignin",
    "write_login_cache",
    "FakeFederation",
    "ReplayTransport",
    "SlowPeer",
]

_LAZY = {
    "local_aws": "awsroles.testing.local",
    "LocalAWS": "awsroles.testing.local",
    "FakeSTS": "awsroles.testing.fake_sts",
    "FrozenClock": "awsroles.testing.clock",
    "AdvancingClock": "awsroles.testing.clock",
    "StaticProvider": "awsroles.testing.providers",
    "FakeProvider": "awsroles.testing.providers",
    "FakeContainerEndpoint": "awsroles.testing.fake_container",
    "FakeIMDS": "awsroles.testing.fake_imds",
    "FakeSSOPortal": "awsroles.testing.fake_sso",
    "write_token_cache": "awsroles.testing.sso_cache",
    "FakeSignin": "awsroles.testing.fake_signin",
    "write_login_cache": "awsroles.testing.login_cache",
    "FakeFederation": "awsroles.testing.fake_federation",
    "ReplayTransport": "awsroles.testing.replay",
    "SlowPeer": "awsroles.testing.slow_peer",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'awsroles.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
