"""Where the shared files are and which profile is selected, as botocore decides both.

:func:`locate` is a pure function of an environment mapping and a platform name (it never
reads ``os.environ`` or the password database), so the cross-SDK file-location vectors,
Windows ones included, run anywhere. Reading and merging the files is in :mod:`.files`.
"""

from __future__ import annotations

import posixpath
import re
import sys

from .._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

# fmt: off
__all__ = [
    "FileLocations", "locate", "home_dir", "expanduser_home", "expand_path",
    "selected_profile", "profile_selection",
]
# fmt: on


# --- locations --------------------------------------------------------------------------------


class FileLocations(Record):
    #: ``None`` when there is no home directory to default to, or when ``AWS_CONFIG_FILE`` /
    #: ``AWS_SHARED_CREDENTIALS_FILE`` is set to an empty string (botocore then reads no file).
    config_file: Optional[str]
    credentials_file: Optional[str]


def _is_windows(platform: Optional[str]) -> bool:
    return (platform or sys.platform).lower().startswith("win")


def _getenv(env: Mapping[str, str], name: str, windows: bool) -> Optional[str]:
    value = env.get(name)
    if value is None and windows:  # Windows environment names are case-insensitive
        value = next((v for k, v in env.items() if k.upper() == name.upper()), None)
    return value


def home_dir(
    env: Mapping[str, str], platform: Optional[str] = None, *, home: Optional[str] = None
) -> Optional[str]:
    """The home directory: ``HOME``; on Windows then ``USERPROFILE``, then
    ``HOMEDRIVE`` + ``HOMEPATH``; else ``home`` (the caller's fallback), else ``None``.
    Empty variables count as unset."""
    windows = _is_windows(platform)
    value = _getenv(env, "HOME", windows)
    if not value and windows:
        value = _getenv(env, "USERPROFILE", windows)
        homepath = _getenv(env, "HOMEPATH", windows)
        if not value and homepath:
            value = (_getenv(env, "HOMEDRIVE", windows) or "") + homepath
    return value or home


def expanduser_home(env: Mapping[str, str]) -> str:
    """The directory ``os.path.expanduser("~")`` gives, read from ``env``: on Windows
    ``USERPROFILE``, else ``HOMEDRIVE`` + ``HOMEPATH``; elsewhere ``HOME``, else the password
    database. botocore finds the CLI's credential cache and the SSO token cache this way
    (the shared files follow :func:`home_dir` instead)."""
    import os

    if os.name == "nt":  # pragma: no cover - ntpath.expanduser rules
        home = env.get("USERPROFILE")
        if home is None and "HOMEPATH" in env:
            home = env.get("HOMEDRIVE", "") + env["HOMEPATH"]
        return home or "~"
    home = env.get("HOME")
    if home is None:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return home.rstrip("/") or "/"


#: Compiled on first use (through re's cache): most paths have no variable at all.
_POSIX_VAR = r"\$(\w+|\{[^}]*\})"
_WINDOWS_VAR = r"%([^%]+)%|\$(\w+|\{[^}]*\})"


def _expandvars(path: str, env: Mapping[str, str], windows: bool) -> str:
    """``os.path.expandvars`` against ``env``: unknown variables are left as written."""

    def replace(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        if name.startswith("{") and name.endswith("}"):
            name = name[1:-1]
        value = _getenv(env, name, windows)
        return match.group(0) if value is None else value

    if "$" not in path and (not windows or "%" not in path):
        return path
    return re.sub(_WINDOWS_VAR if windows else _POSIX_VAR, replace, path, flags=re.ASCII)


def _expanduser(path: str, home: Optional[str], windows: bool) -> str:
    """``~`` and ``~/...`` (also ``~\\...`` on Windows) -> home; ``~user`` is left as written."""
    if home is None or not path.startswith("~"):
        return path
    seps = "/\\" if windows else "/"
    if len(path) > 1 and path[1] not in seps:
        return path
    if windows:
        return home + path[1:] if len(path) > 1 else home
    return (home.rstrip("/") + path[1:]) or "/"


def expand_path(
    path: str,
    env: Mapping[str, str],
    platform: Optional[str] = None,
    *,
    home: Optional[str] = None,
) -> str:
    """botocore's ``expanduser(expandvars(path))``, evaluated against ``env``."""
    windows = _is_windows(platform)
    home = home_dir(env, platform, home=home)
    return _expanduser(_expandvars(path, env, windows), home, windows)


def locate(
    env: Mapping[str, str], platform: Optional[str] = None, *, home: Optional[str] = None
) -> FileLocations:
    """The config and credentials file paths for ``env`` on ``platform``
    (``"linux"``, ``"windows"``, ...; default: this machine). Pure: no file system access."""
    windows = _is_windows(platform)
    if windows:
        import ntpath  # not loaded on POSIX starts

        join = ntpath.join
    else:
        join = posixpath.join
    base = home_dir(env, platform, home=home)

    def one(var: str, default_name: str) -> Optional[str]:
        value = _getenv(env, var, windows)
        if value is not None:
            return expand_path(value, env, platform, home=home) if value else None
        return join(base, ".aws", default_name) if base else None

    return FileLocations(
        one("AWS_CONFIG_FILE", "config"), one("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    )


# --- profile selection ------------------------------------------------------------------------


def profile_selection(env: Mapping[str, str], explicit: Optional[str] = None) -> tuple[str, str]:
    """``(name, source)``: ``explicit`` (source ``"explicit"``), else the first of
    ``AWS_DEFAULT_PROFILE``, ``AWS_PROFILE`` that is *present* (even if empty, as botocore),
    else ``("default", "default")``."""
    if explicit is not None:
        return explicit, "explicit"
    for var in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):
        value = env.get(var)
        if value is not None:
            return value, var
    return "default", "default"


def selected_profile(env: Mapping[str, str], explicit: Optional[str] = None) -> str:
    """The selected profile name. An empty variable yields ``""``; looking that name up with
    :meth:`SharedConfig.profile` raises a :class:`ProfileNotFoundError` that says so."""
    return profile_selection(env, explicit)[0]
