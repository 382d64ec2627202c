"""pytest fixtures for code that uses awsroles. Installed with awsroles and loaded by pytest
on its own (the ``pytest11`` entry point ``awsroles``; ``-p no:awsroles`` turns it off).

- ``awsroles_local``: a ``LocalAWS`` from ``local_aws()``, for
  one test: a local STS, a HOME under ``tmp_path`` with profiles ``base`` and ``dev``, and
  ``.env`` pointing at them. Arguments for ``local_aws`` come from the ``awsroles_local``
  marker: ``@pytest.mark.awsroles_local(config=..., patch_environ=True)``.
- ``awsroles_sts``: the running ``FakeSTS`` (the same one
  ``awsroles_local`` uses when a test asks for both).
- ``frozen_clock``: a ``FrozenClock`` at 2030-01-01T00:00Z.
  When a test also asks for it, ``awsroles_sts`` and ``awsroles_local`` run on it.

Nothing from awsroles is imported until a fixture is used.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

MARKER = "awsroles_local"


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**kwargs): keyword arguments for local_aws() behind the awsroles_local "
        "fixture (config, credentials, profile, imds, container, sso, patch_environ, ...)",
    )


def _marker_kwargs(request: Any) -> Dict[str, Any]:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only")
    return dict(marker.kwargs)


def _clock(request: Any) -> Any:
    """The marker's ``clock=``, else ``frozen_clock`` if the test uses it, else real time."""
    given = _marker_kwargs(request).get("clock")
    if given is not None:
        return given
    if "frozen_clock" in request.fixturenames:
        return request.getfixturevalue("frozen_clock")
    from awsroles.clock import SYSTEM_CLOCK

    return SYSTEM_CLOCK


@pytest.fixture
def frozen_clock() -> Any:
    """A FrozenClock at 2030-01-01T00:00:00Z; ``frozen_clock.advance(minutes=50)`` moves it."""
    from awsroles.testing.clock import FrozenClock

    return FrozenClock("2030-01-01T00:00:00Z")


@pytest.fixture
def awsroles_sts(request: Any) -> Iterator[Any]:
    """A FakeSTS on 127.0.0.1 for this test (``sts=`` of the awsroles_local marker: its
    keyword arguments)."""
    from awsroles.testing.fake_sts import FakeSTS

    options = dict(_marker_kwargs(request).get("sts") or {})
    options.setdefault("clock", _clock(request))
    with FakeSTS(**options) as sts:
        yield sts


@pytest.fixture
def awsroles_local(request: Any, awsroles_sts: Any, tmp_path: Any) -> Iterator[Any]:
    """``local_aws(...)`` for this test, HOME under ``tmp_path``, on ``awsroles_sts``."""
    from awsroles.testing.local import local_aws

    options = _marker_kwargs(request)
    options["sts"] = awsroles_sts
    options["clock"] = _clock(request)
    options.setdefault("home", tmp_path / "awsroles-home")
    with local_aws(**options) as aws:
        yield aws
