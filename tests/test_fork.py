"""A fork while another thread holds a refresh lock must not hang the child."""

import os
import threading
from datetime import timedelta

import pytest

from awsroles.credentials import Credentials
from awsroles.refresh.sync import RefreshableCredentials
from awsroles.testing.clock import FrozenClock

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork only")


def test_child_refreshes_although_parent_thread_held_the_lock():
    clock = FrozenClock()
    entered, release = threading.Event(), threading.Event()
    n = []

    def fetch(mode, current):
        n.append(mode)
        if len(n) == 2:  # the parent's background refresh: hold the lock across fork()
            entered.set()
            release.wait(10)
        return Credentials(f"AK{len(n)}", "s", "t", clock.now() + timedelta(hours=1))

    creds = RefreshableCredentials(fetch, method="test", clock=clock)
    creds.get_frozen_credentials()
    clock.advance(minutes=50)
    creds.get_frozen_credentials()  # stale: starts the background refresh
    assert entered.wait(5)
    pid = os.fork()
    if pid == 0:  # child
        try:
            signal_ok = True
            import signal

            signal.alarm(5)  # a hang kills the child with SIGALRM
            clock.advance(minutes=9, seconds=30)  # mandatory window: must refresh here
            got = creds.get_frozen_credentials()
            signal_ok = got.access_key != "AK1"
        finally:
            os._exit(0 if signal_ok else 3)
    release.set()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
