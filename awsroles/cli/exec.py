"""``awsroles exec --profile P [--server] [-- CMD ...]``: run a command (by default the user's
``$SHELL``) with the credentials and return its exit status.

With ``--server`` the child gets no keys: a credential server runs in this process for the
child's lifetime (:mod:`awsroles.cli.serve`), and the child gets
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, so the AWS
SDKs and the AWS CLI in it ask the server and get fresh credentials for as long as it runs.
Variables that would make an SDK look elsewhere first (keys, a profile, web identity, another
container endpoint) are removed. Either way the child gets ``AWSROLES_PROFILE`` (the profile's
name, for a shell prompt).

The child gets ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` and
``AWS_CREDENTIAL_EXPIRATION`` (each removed when the set has none, so nothing stale from the
parent's environment is mixed in), and loses ``AWS_PROFILE``/``AWS_DEFAULT_PROFILE`` so that it
uses exactly these credentials instead of resolving the profile again. Since the profile is
gone, its ``region`` is passed on as ``AWS_REGION``/``AWS_DEFAULT_REGION`` unless those are set.

Exit status as a shell reports it: the command's own; ``128 + N`` when it was killed by signal
N; 127 when it is not found; 126 when it cannot be executed. Ctrl-C reaches the command
(it is in the terminal's foreground process group) and awsroles waits for it to finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from ..context import Context
from ..credentials import Credentials
from .output import shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = ["child_environment", "server_environment", "run_exec"]

#: Variables the child must not inherit: they would make it resolve something else, or mix
#: a stale token/expiry/account into these credentials.
_REMOVE = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
)


def child_environment(
    creds: Credentials, base: Mapping[str, str], region: Optional[str] = None
) -> Dict[str, str]:
    """``base`` with the credentials set, the profile variables removed and the profile's
    region passed on."""
    from .export import env_pairs

    given = dict(env_pairs(creds))
    if creds.account_id:
        given["AWS_ACCOUNT_ID"] = creds.account_id
    return _environment(base, _REMOVE, given, region)


def _environment(
    base: Mapping[str, str],
    remove: Tuple[str, ...],
    given: Mapping[str, str],
    region: Optional[str],
) -> Dict[str, str]:
    """``base`` without ``remove``, with ``given``, and the profile's region passed on when
    neither region variable is set."""
    env = {k: v for k, v in base.items() if k not in remove}
    env.update(given)
    if region and not env.get("AWS_REGION") and not env.get("AWS_DEFAULT_REGION"):
        env["AWS_REGION"] = region
        env["AWS_DEFAULT_REGION"] = region
    return env


#: With --server: what an SDK would read before the container endpoint, or instead of ours.
_REMOVE_FOR_SERVER = _REMOVE + (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)


def server_environment(
    served: Mapping[str, str], base: Mapping[str, str], region: Optional[str] = None
) -> Dict[str, str]:
    """``base`` with the server's two variables, nothing an SDK would prefer to them, and the
    profile's region passed on."""
    return _environment(base, _REMOVE_FOR_SERVER, served, region)


def _warn_if_default_wins(env: Mapping[str, str]) -> None:
    """The SDKs read the shared files' ``default`` profile before the container endpoint: if
    it holds credentials, the child would use those, not the server's. Say so."""
    from ..context import Services, Settings
    from ..errors import AwsRolesError
    from ..resolver.profile import ProfileProvider

    try:
        plan = ProfileProvider().plan(Context(Settings(), Services(env=env)))
    except AwsRolesError:
        return  # the child's SDK will report it; nothing of ours to add
    if plan is not None:
        print(
            f"awsroles: warning: profile '{shown(plan.profile)}' in the shared files has "
            "credentials; AWS SDKs in the command use them before the credential server. "
            "Move them to a named profile.",
            file=sys.stderr,
        )


def _default_shell() -> List[str]:
    if os.name == "nt":  # pragma: no cover - POSIX here
        return [os.environ.get("COMSPEC") or "cmd.exe"]
    return [os.environ.get("SHELL") or "/bin/sh"]


def _profile_region(ctx: Context) -> Optional[str]:
    try:
        return ctx.selected_profile_values().get("region") or None
    except Exception:  # a config problem was already reported, or did not matter
        return None


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for ``proc``; Ctrl-C is for the child (it got the SIGINT too), SIGTERM/SIGHUP sent
    to awsroles are passed on to it."""
    forwarded: Dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread() and os.name != "nt":

        def forward(signum: int, frame: Optional[FrameType]) -> None:  # pragma: no cover
            try:
                proc.send_signal(signum)
            except OSError:
                pass

        for sig in (signal.SIGTERM, signal.SIGHUP):
            forwarded[sig] = signal.signal(sig, forward)
        if not _in_foreground():
            # Ctrl-C at a terminal reaches the child by itself; a SIGINT sent to us alone
            # (a supervisor, `kill -INT`, PID 1 in a container) must be passed on.
            forwarded[signal.SIGINT] = signal.signal(signal.SIGINT, forward)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue  # the child decides what Ctrl-C means; we report its status
    finally:
        for sig, previous in forwarded.items():
            signal.signal(sig, previous)


def _in_foreground() -> bool:
    """True when we run in the terminal's foreground process group (Ctrl-C hits us all)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, AttributeError, ValueError):
        return False


def run_exec(
    profile: Optional[str],
    command: List[str],
    mfa_token: Optional[str] = None,
    *,
    server: bool = False,
) -> int:
    if command and command[0] == "--":
        command = command[1:]
    shell = not command
    if shell:
        command = _default_shell()
    if server:
        from .serve import start_server

        # The access log stays out of the child's terminal (--debug shows it).
        running, ctx = start_server(profile, mfa_token)
        try:
            env = server_environment(running.environment(), os.environ, _profile_region(ctx))
            _warn_if_default_wins(env)
            return _run(command, env, ctx.profile_name, shell)
        finally:
            running.stop()
    from .resolve import resolve_for_command

    creds, ctx = resolve_for_command(profile, mfa_token=mfa_token)
    env = child_environment(creds, os.environ, _profile_region(ctx))
    return _run(command, env, ctx.profile_name, shell)


def _run(command: List[str], env: Dict[str, str], profile: str, shell: bool) -> int:
    env["AWSROLES_PROFILE"] = profile
    if shell and sys.stderr.isatty():
        print(
            f"awsroles: starting {shown(command[0])} with profile '{shown(profile)}'; "
            "exit it to return",
            file=sys.stderr,
        )
    try:
        proc = subprocess.Popen(command, env=env)
    except FileNotFoundError:
        print(f"awsroles: error: command not found: {shown(command[0])}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"awsroles: error: permission denied: {shown(command[0])}", file=sys.stderr)
        return 126
    except OSError as exc:
        print(
            f"awsroles: error: cannot run {shown(command[0])}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 126
    code = _wait(proc)
    return 128 - code if code < 0 else code
