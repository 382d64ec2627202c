"""``awsroles serve --profile P``: serve a profile's credentials to other processes on
127.0.0.1 (:class:`awsroles.integrations.server.CredentialServer`) until SIGINT or SIGTERM.

stdout gets the two variables a client needs, in ``--format`` (``eval "$(awsroles serve …)"``
does not work, since the command keeps running: copy the lines, or read them from a pipe);
stderr gets one line saying where it serves, then the access log.
"""

from __future__ import annotations

import signal
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Callable, Optional

    from ..context import Context
    from ..integrations.server import CredentialServer

__all__ = ["run_serve", "start_server", "access_log"]


def start_server(
    profile: Optional[str], mfa_token: Optional[str], port: int = 0
) -> tuple[CredentialServer, Context]:
    """A running credential server for ``profile`` (the credentials are resolved, and checked,
    before it listens)."""
    from ..integrations.server import CredentialServer
    from .resolve import resolve_to_serve

    creds, ctx, left = resolve_to_serve(profile, mfa_token=mfa_token)
    return CredentialServer(creds, port=port, min_left=left).start(), ctx


def access_log() -> Callable[[], None]:
    """The server's INFO access log on stderr; returns what undoes it."""
    import logging

    logger = logging.getLogger("awsroles.server")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s awsroles: %(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # once, even when --debug logs "awsroles" to stderr too
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate

    return undo


def run_serve(profile: Optional[str], port: int, fmt: str, mfa_token: Optional[str]) -> int:
    from .export import render_variables, write
    from .output import shown

    server, ctx = start_server(profile, mfa_token, port)
    undo = access_log()
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: Optional[FrameType]) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        write(render_variables(sorted(server.environment().items()), fmt), fmt)
        print(
            f"awsroles: serving profile '{shown(ctx.profile_name)}' on {server.url} to holders "
            "of the token (Ctrl-C or SIGTERM stops it)",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        undo()
    print("awsroles: credential server stopped", file=sys.stderr)
    return 0
