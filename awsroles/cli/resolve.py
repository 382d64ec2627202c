"""Credentials for a short-lived command (``export``, ``credential-process``, ``exec``,
``whoami``): resolved once, refreshed synchronously, and guarded against calling itself.

Short-lived commands exit before a background refresh could finish, so they
refresh in the foreground: :meth:`RefreshableCredentials.refresh` fetches when nothing is held
and refreshes when the set is inside its advisory window (a cache entry with little time left
is replaced before it is printed, not after the command has gone).

The recursion guard: ``credential_process = awsroles credential-process
--profile P`` written into profile P itself (or into a profile P's chain starts from) would
start awsroles, which runs the command, which starts awsroles, ... forever. Two checks, both
before anything runs or calls out:

* the plan's base is a credential_process whose command is visibly awsroles for a profile of
  the same chain;
* the base's profile is already on ``AWSROLES_PROCESS_STACK`` (set by
  :mod:`awsroles.providers.process` for every command it runs, and inherited through the AWS
  CLI or any other tool in between): its credential_process is running above us, and resolving
  it again would run it again.
"""

from __future__ import annotations

import os

from ..context import Context, Services, Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, List, Mapping, Optional, Tuple

    from ..config.model import Plan
    from ..credentials import Credentials
    from ..protocols import CredentialSource

__all__ = ["resolve_for_command", "check_recursion", "awsroles_target", "min_left"]

#: Subcommands that resolve a profile (and so could recurse).
_RESOLVING = ("credential-process", "export", "exec", "whoami")


#: botocore's advisory refresh window, which consumers of our output apply to it.
CONSUMER_ADVISORY_WINDOW = 15 * 60


class OneCode:
    """The prompter of ``--mfa-token CODE``: the code answers the first question; a code is
    good for one call, so any later one goes to the profile's mfa_process or the terminal."""

    def __init__(self, code: str) -> None:
        self._code: Optional[str] = code

    def __call__(self, serial: str) -> Optional[str]:
        code, self._code = self._code, None
        return code

    def __repr__(self) -> str:
        return "OneCode(****)"


def make_context(
    profile: Optional[str],
    env: Optional[Mapping[str, str]] = None,
    mfa_token: Optional[str] = None,
    *,
    advisory_timeout: Optional[float] = None,
    background_refresh: bool = False,
) -> Context:
    # background_refresh=False for short-lived commands: an advisory refresh of an inner hop
    # runs inline, not on a daemon thread this process would abandon when it exits.
    prompter = OneCode(mfa_token) if mfa_token is not None else None
    return Context(
        Settings(
            profile=profile,
            background_refresh=background_refresh,
            advisory_timeout=advisory_timeout,
        ),
        Services(env=env, prompter=prompter),
    )


def resolve_for_command(
    profile: Optional[str],
    env: Optional[Mapping[str, str]] = None,
    *,
    mfa_token: Optional[str] = None,
) -> Tuple[Credentials, Context]:
    """One frozen, consistent credential set for ``profile`` (the default chain when None),
    refreshed first if it is inside its advisory window. ``mfa_token`` answers the first MFA
    code asked for."""
    from ..refresh.sync import RefreshableCredentials
    from ..resolver.chain import CredentialChain, default_providers

    ctx = make_context(profile, env, mfa_token)
    resolution = CredentialChain(default_providers(ctx)).resolve(
        ctx, before_load=lambda found: check_recursion(ctx, found.plan)
    )
    creds = resolution.credentials
    if isinstance(creds, RefreshableCredentials):
        return creds.refresh(min_left=min_left(resolution.found.plan)), ctx
    return creds.get_frozen_credentials(), ctx


def resolve_to_serve(
    profile: Optional[str], *, mfa_token: Optional[str] = None
) -> Tuple[CredentialSource, Context, float]:
    """The credential object a long-running server hands out, its context, and how long a set
    handed out should still be valid (:func:`min_left`). It refreshes in the background a
    minute before that, so a client asking for a new set gets one at once."""
    from ..errors import AwsRolesError
    from ..resolver.chain import CredentialChain, default_providers
    from ..resolver.profile import ProfileProvider

    try:  # the role's lifetime, when the profile is a role: the windows depend on it
        plan = ProfileProvider().plan(make_context(profile))
    except AwsRolesError:
        plan = None  # resolving reports it, with the chain's other sources tried first
    left = min_left(plan)
    ctx = make_context(
        profile, mfa_token=mfa_token, advisory_timeout=left + 60, background_refresh=True
    )
    resolution = CredentialChain(default_providers(ctx)).resolve(
        ctx, before_load=lambda found: check_recursion(ctx, found.plan)
    )
    return resolution.credentials, ctx, left


def min_left(plan: Optional[Plan]) -> float:
    """How long a set handed out should still be valid. The AWS CLI and botocore treat
    credentials with less than 15 minutes left as due for refresh and would run us again on
    every access, so a set should have more than that; but a role that lives 15 minutes (or
    less) never can, and asking would call STS on every run: then half its lifetime will do."""
    duration = None
    if plan is not None:
        last = plan.hops[-1] if plan.hops else plan.base
        duration = getattr(last, "duration_seconds", None)
    lifetime = duration or 3600  # STS's default
    return min(CONSUMER_ADVISORY_WINDOW, lifetime / 2)


# --- the recursion guard --------------------------------------------------------------------


def awsroles_target(argv: List[str]) -> Optional[str]:
    """The profile an awsroles command line resolves (``--profile P``/``-p P``/``--profile=P``),
    or None when ``argv`` is not a resolving awsroles command naming a profile. Recognises
    ``awsroles ...`` and ``<python> -m awsroles ...``."""
    if not argv:
        return None
    program = os.path.basename(argv[0]).lower()
    if program.endswith(".exe"):
        program = program[:-4]
    if program == "awsroles":
        rest = argv[1:]
    else:
        try:
            i = argv.index("-m")
        except ValueError:
            return None
        if i + 1 >= len(argv) or argv[i + 1] != "awsroles":
            return None
        rest = argv[i + 2 :]
    if not any(word in _RESOLVING for word in rest):
        return None
    for i, word in enumerate(rest):
        if word == "--":
            break
        if word in ("--profile", "-p") and i + 1 < len(rest):
            return rest[i + 1]
        if word.startswith("--profile="):
            return word[len("--profile=") :]
    return None


def _stack_profiles(env: Mapping[str, str]) -> List[str]:
    from ..providers.process import read_stack

    return [str(entry[0]) for entry in read_stack(env)]


def _chain_profiles(plan: Plan) -> List[str]:
    """The profiles the plan goes through, outermost first, without repeats in a row."""
    names: List[str] = []
    for name in [plan.profile] + [hop.profile for hop in reversed(plan.hops)]:
        if not names or names[-1] != name:
            names.append(name)
    base = getattr(plan.base, "profile", None)
    if base and names[-1] != base:
        names.append(base)
    return names


def _loop_error(profile: str, message: str, chain: Iterable[str]) -> Exception:
    from ..providers.process import CredentialProcessError

    return CredentialProcessError(
        message + " (chain: " + " -> ".join(f"'{p}'" for p in chain) + ").",
        profile=profile,
        hint="A profile's credential_process must not resolve that same profile; point it "
        "at the profile that holds the real credentials (for example `awsroles "
        "credential-process --profile <source profile>`).",
    )


def check_recursion(ctx: Context, plan: Optional[Plan]) -> None:
    """Raise a CredentialProcessError naming the profile when resolving ``plan`` (about to be
    loaded for ``ctx``) would call itself."""
    from ..config.model import ProcessSource

    if plan is None or not isinstance(plan.base, ProcessSource):
        return  # the common case: nothing below (process modules, the stack) is needed
    from ..providers.process_run import split_command

    stack = _stack_profiles(ctx.env)
    base = plan.base
    names = _chain_profiles(plan)
    if base.profile in stack:
        raise _loop_error(
            base.profile,
            f"resolving profile '{plan.profile}' would run the credential_process of profile "
            f"'{base.profile}', which is already running and is what started this command: "
            "it would call itself forever",
            stack + names,
        )
    try:
        argv = split_command(base.command)
    except ValueError:
        return  # resolution reports the bad command
    target = awsroles_target(argv)
    if target is not None and target in names:
        raise _loop_error(
            base.profile,
            f"the credential_process of profile '{base.profile}' runs awsroles for profile "
            f"'{target}', which needs that same credential_process: it would call itself "
            "forever",
            names + [target],
        )
