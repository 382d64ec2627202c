"""``awsroles cache list`` and ``awsroles cache clear``: the shared ``~/.aws/cli/cache``.

Entries are named by the SHA-1 of their AssumeRole arguments, so the profile behind an entry is
found the other way round: the cache key of every role hop of every profile in the config is
computed, and an entry whose name matches one is labelled with that hop's profile. Nothing
here ever prints a key, secret or token: only file names, the assumed-role ARN, and times.
"""

from __future__ import annotations

import os
import sys

from ..cache.store import FileCache
from ..context import Context, Services, Settings
from ..errors import AwsRolesError
from ..resolver.entries import SESSION_LABEL, plan_entries
from .output import shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

    from ..config.model import Plan

__all__ = ["profile_keys", "run_cache_list", "run_cache_clear"]


def say(text: str, end: str = "\n") -> None:
    """Print a line that holds names and values read from files (escaped)."""
    print(shown(text), end=end)


def _keys_of(plan: Optional[Plan]) -> List[Tuple[str, str]]:
    """(cache key, profile) of every entry ``plan`` owns: an SSO base, its web identity and
    role hops, and the MFA sessions its hops ride."""
    return [] if plan is None else [(e.key, e.profile) for e in plan_entries(plan)]


def profile_keys(ctx: Context) -> Dict[str, Set[str]]:
    """cache key -> names of the profiles whose role hop has that key (offline, best effort:
    a profile that cannot be planned is skipped)."""
    from ..config.plan import build_plan

    try:
        config = ctx.config
        profiles = config.profiles
    except AwsRolesError:
        return {}
    sso = config.sso_sessions
    found: Dict[str, Set[str]] = {}
    for name in profiles:
        try:
            plan = build_plan(profiles, name, sso_sessions=sso)
            pairs = _keys_of(plan)
        except (AwsRolesError, ValueError, TypeError):
            continue
        for key, profile in pairs:
            found.setdefault(key, set()).add(profile)
    return found


def _read_entry(path: str) -> Optional[Dict[str, Any]]:
    from .._files import read_small_file
    from ..cache.entry import MAX_ENTRY_BYTES, loads

    try:  # a FIFO named *.json is refused, never waited on
        raw = read_small_file(path, MAX_ENTRY_BYTES)
        if len(raw) > MAX_ENTRY_BYTES:
            return None
        data = loads(raw)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(data: Optional[Dict[str, Any]], now: datetime) -> Tuple[str, str, str]:
    """(role ARN, expiry, time left) of an entry, without touching its secrets."""
    from ..cache.entry import entry_expiry

    if data is None:
        return "(unreadable entry)", "-", "-"
    user = data.get("AssumedRoleUser")
    role = user.get("Arn") if isinstance(user, dict) else None
    if not isinstance(role, str) or not role:
        role = "(sso role credentials)" if data.get("ProviderType") == "sso" else "-"
    try:
        expiry = entry_expiry(data)
    except ValueError:
        return role, "-", "no valid expiry"
    left = (expiry - now).total_seconds()
    from ..timestamps import format_timestamp

    when = format_timestamp(expiry)
    return role, when, f"{int(left // 60)} min" if left > 0 else "expired"


def _entry_names(ctx: Context) -> List[str]:
    return [key + ".json" for key in ctx.services.cache.keys()]


def _file_cache(ctx: Context) -> FileCache:
    cache = ctx.services.cache
    assert isinstance(cache, FileCache)  # the command works on the AWS CLI's directory
    return cache


def run_cache_list(env: Optional[Mapping[str, str]] = None) -> int:
    ctx = Context(services=Services(env=env))
    directory = _file_cache(ctx).directory
    names = _entry_names(ctx)
    if not names:
        say(f"no entries in {directory}")
        return 0
    labels = profile_keys(ctx)
    now = ctx.clock.now()
    rows = [("ENTRY", "EXPIRES", "LEFT", "PROFILE", "ROLE")]
    for name in names:
        role, when, left = _describe(_read_entry(os.path.join(directory, name)), now)
        profiles = ",".join(sorted(labels.get(name[:-5], ()))) or "-"
        rows.append((name, when, left, profiles, role))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    say(f"{directory}: {len(names)} entr{'y' if len(names) == 1 else 'ies'}")
    for row in rows:
        say("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
    return 0


# --- clearing -------------------------------------------------------------------------------


def _remove_lock(path: str) -> bool:
    """Delete a ``.json.lock`` file unless another process holds it right now (taken with
    the cache's own lock, so flock and filelock holders both count)."""
    from ..cache.lock import LockTimeout, acquire

    try:
        lock = acquire(path, 0)
    except (LockTimeout, OSError, ImportError):
        return False
    try:
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        lock.release()


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _confirmed(ctx: Context, ask: Optional[Callable[[str], str]]) -> bool:
    """Whether the user agrees to delete every entry, after being told which."""
    directory = _file_cache(ctx).directory
    names = _entry_names(ctx)
    if not names:
        return True  # nothing to lose: the lock files are tidied up
    say(f"{len(names)} entr{'y' if len(names) == 1 else 'ies'} in {directory}:")
    now = ctx.clock.now()
    for name in names:
        role, _, _ = _describe(_read_entry(os.path.join(directory, name)), now)
        say(f"  {name}  ({role})")
    answer = (ask or input)(
        "Remove them all? The AWS CLI and SDKs sharing the cache will call "
        "STS (and ask for MFA codes) again. [y/N] "
    )
    if answer.strip().lower() in ("y", "yes"):
        return True
    say("nothing removed")
    return False


def _clear_all(ctx: Context) -> int:
    directory = _file_cache(ctx).directory
    removed = 0
    for name in _entry_names(ctx):
        path = os.path.join(directory, name)
        role, _, _ = _describe(_read_entry(path), ctx.clock.now())
        try:
            os.unlink(path)
        except OSError as exc:
            say(f"could not remove {path}: {exc.strerror or exc}")
            continue
        removed += 1
        say(f"removed {path}  ({role})")
    try:
        locks = sorted(n for n in os.listdir(directory) if n.endswith(".json.lock"))
    except OSError:
        locks = []
    kept = [n for n in locks if not _remove_lock(os.path.join(directory, n))]
    if locks:
        say(f"removed {len(locks) - len(kept)} lock file(s)", end="")
        say(f"; {len(kept)} in use, kept" if kept else "")
    if not removed:
        say(f"no entries in {directory}")
    return 0


def run_cache_clear(
    profile: Optional[str],
    env: Optional[Mapping[str, str]] = None,
    *,
    yes: bool = False,
    ask: Optional[Callable[[str], str]] = None,
) -> int:
    """Delete ``profile``'s entries; with no profile, every entry, once confirmed (``yes``,
    or an answer from the terminal; without a terminal, a usage error)."""
    if profile is None:
        ctx = Context(services=Services(env=env))
        if not yes:
            if ask is None and not _interactive():  # a script or CI: nobody can answer
                print(
                    "awsroles: error: cache clear without --profile deletes every entry of the "
                    "shared cache; pass --yes (or --all) to do so without a terminal, or "
                    "--profile P for one profile's entries.",
                    file=sys.stderr,
                )
                return 2
            if not _confirmed(ctx, ask):
                return 1
        return _clear_all(ctx)
    from ..resolver.profile import ProfileProvider

    ctx = Context(Settings(profile=profile), Services(env=env))
    pairs = _keys_of(ProfileProvider().plan(ctx))
    if not pairs:
        say(f"profile '{profile}' assumes no role: it has no entries in the cache")
        return 0
    cache = _file_cache(ctx)
    for key, owner in pairs:
        path = cache.path(key)
        role, _, _ = _describe(_read_entry(path), ctx.clock.now())
        if cache.delete(key):
            say(f"removed {path}  ({_owner_text(owner)}, {role})")
        else:
            say(f"no entry {path}  ({_owner_text(owner)})")
    return 0


def _owner_text(owner: str) -> str:
    """``profile 'NAME'``, or ``profile 'NAME', MFA session`` for a session's entry."""
    name, session, _ = owner.partition(f" {SESSION_LABEL}")
    return f"profile '{name}'" + (", MFA session" if session else "")
