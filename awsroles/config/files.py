"""The merged view of both shared files, loaded once per file version. Where the files are
and which profile is selected is in :mod:`.paths` (re-exported here).

* :func:`load_shared_config` parses each file once per file version: the parse is memoised on
  ``(path, st_mtime_ns, st_size, st_ino)``, so a long-running process re-parses a file only
  after it changed.
* :class:`SharedConfig` merges the two files as botocore does: the credentials file wins key by
  key; both per-file sections stay reachable, because static keys are read per file.
"""

from __future__ import annotations

import os
import stat
import threading

from ..errors import ProfileNotFoundError
from .parser import (
    ParsedFile,
    Section,
    parse_config,
    parse_credentials,
    parse_subproperties,
    read_file,
)
from .paths import (  # noqa: F401 - part of this module's API
    FileLocations,
    expand_path,
    home_dir,
    locate,
    profile_selection,
    selected_profile,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

# fmt: off
__all__ = [
    "FileLocations", "Profile", "SharedConfig", "locate", "home_dir", "expand_path",
    "selected_profile", "profile_selection", "load_shared_config", "load_file", "cache_info",
    "clear_cache",
]
# fmt: on

MAX_LISTED_PROFILES = 10


# --- the merged view --------------------------------------------------------------------------


class Profile:
    """A profile merged from both files; credentials-file values override config-file ones."""

    __slots__ = ("name", "values", "config_section", "credentials_section", "_paths")

    def __init__(
        self,
        name: str,
        config_section: Optional[Section],
        credentials_section: Optional[Section],
        config_path: Optional[str] = None,
        credentials_path: Optional[str] = None,
    ) -> None:
        self.name = name
        self.config_section = config_section
        self.credentials_section = credentials_section
        self._paths = (config_path, credentials_path)
        values: dict[str, str] = {}
        if config_section is not None:
            values.update(config_section.values)
        if credentials_section is not None:
            values.update(credentials_section.values)
        self.values = values

    @property
    def config_path(self) -> Optional[str]:
        return self._paths[0]

    @property
    def credentials_path(self) -> Optional[str]:
        return self._paths[1]

    def origin(self, key: str) -> Optional[tuple[str, int]]:
        """``(path, line)`` where the effective value of ``key`` is defined, for messages."""
        key = key.lower()
        for section, path in (
            (self.credentials_section, self._paths[1]),
            (self.config_section, self._paths[0]),
        ):
            if section is not None and key in section.values:
                return (path or "", section.lines.get(key, section.line))
        return None

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.values.get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.values

    def __repr__(self) -> str:  # key names only: values may be secrets
        return f"Profile(name={self.name!r}, keys={sorted(self.values)!r})"


def _empty(path: Optional[str], kind: str) -> ParsedFile:
    return ParsedFile(path=path or "", kind=kind)


class SharedConfig:
    """Both shared files, parsed and merged. Treat it as read-only: parsed files are shared
    between callers through the per-version cache."""

    def __init__(
        self,
        config_path: Optional[str],
        credentials_path: Optional[str],
        config: Optional[ParsedFile] = None,
        credentials: Optional[ParsedFile] = None,
    ) -> None:
        self.config_path = config_path
        self.credentials_path = credentials_path
        self.config = config if config is not None else _empty(config_path, "config")
        self.credentials = (
            credentials if credentials is not None else _empty(credentials_path, "credentials")
        )
        names = list(self.config.profiles)
        names += [n for n in self.credentials.profiles if n not in self.config.profiles]
        self.profiles: dict[str, Profile] = {
            name: Profile(
                name,
                self.config.profiles.get(name),
                self.credentials.profiles.get(name),
                config_path,
                credentials_path,
            )
            for name in names
        }
        self.sso_sessions: dict[str, Section] = dict(self.config.sso_sessions)
        #: ``{services section name: {service: {sub-key: value}}}``, e.g.
        #: ``{"dev": {"sts": {"endpoint_url": "http://localhost:4566"}}}``.
        self.services: dict[str, dict[str, dict[str, str]]] = {
            name: {
                key: parse_subproperties(raw)
                for key, raw in section.values.items()
                if raw.startswith("\n")
            }
            for name, section in self.config.services.items()
        }

    def get(self, name: str) -> Optional[Profile]:
        return self.profiles.get(name)

    def profile(self, name: str, *, source: Optional[str] = None) -> Profile:
        """The profile ``name``; :class:`ProfileNotFoundError` when neither file has it.
        ``source`` (e.g. ``"AWS_PROFILE"``, from :func:`profile_selection`) improves the message.
        """
        found = self.profiles.get(name)
        if found is None:
            raise self._not_found(name, source)
        return found

    def _not_found(self, name: str, source: Optional[str]) -> ProfileNotFoundError:
        env_source = source if source and source.startswith("AWS_") else None
        if name == "" and env_source:
            return ProfileNotFoundError(
                f"no profile name given: {env_source} is set to an empty string.",
                hint=f"Unset {env_source} or set it to a profile name.",
            )
        if name == "":
            return ProfileNotFoundError("no profile name given: it is empty.")
        files = (
            " or ".join(_display(p) for p in (self.config_path, self.credentials_path) if p)
            or "any shared config file (no home directory is known)"
        )
        parts = [f"not found in {files}"]
        if env_source:
            parts[0] += f" (selected by {env_source})"
        parts[0] += "."
        available = sorted(self.profiles)
        if available:
            listed = ", ".join(available[:MAX_LISTED_PROFILES])
            more = len(available) - MAX_LISTED_PROFILES
            parts.append(
                f"Available profiles: {listed}" + (f" and {more} more." if more > 0 else ".")
            )
            import difflib  # only to suggest a name in an error

            close = difflib.get_close_matches(name, available, n=1)
            if close:
                parts.append(f"Did you mean '{close[0]}'?")
        else:
            parts.append("No profiles are defined.")
        for ignored in self.config.ignored:
            if ignored.header == name:
                parts.append(
                    f"{_display(self.config_path)} line {ignored.line} has [{name}]: in the "
                    f"config file write [profile {name}]."
                )
        for ignored in self.credentials.ignored:
            if ignored.header.split(None, 1)[-1].strip() == name:
                parts.append(
                    f"{_display(self.credentials_path)} line {ignored.line} has "
                    f"[{ignored.header}]: in the credentials file write [{name}]."
                )
        return ProfileNotFoundError(
            " ".join(parts),
            profile=name,
            hint=f"Create it with `aws configure --profile {name}` or select another profile.",
        )

    def __repr__(self) -> str:
        return (
            f"SharedConfig(config_path={self.config_path!r}, "
            f"credentials_path={self.credentials_path!r}, profiles={sorted(self.profiles)!r})"
        )


def _display(path: Optional[str]) -> str:
    return path or "<none>"


# --- loading, with a per-file-version cache ---------------------------------------------------

_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[tuple[int, int, int], ParsedFile]] = {}
_parses = 0
_MAX_CACHED = 64


def cache_info() -> dict[str, int]:
    """``{"parses": files parsed so far, "entries": cached file versions}`` (for tests)."""
    with _lock:
        return {"parses": _parses, "entries": len(_cache)}


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def load_file(path: Optional[str], kind: str) -> ParsedFile:
    """Parse the ``kind`` (``"config"``/``"credentials"``) file at ``path``, at most once per
    file version. A missing path, or one that is not a regular file, gives an empty file."""
    global _parses
    if not path:
        return _empty(path, kind)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        st = None  # read_file decides: absent, or an error naming the file
    if st is not None and stat.S_ISREG(st.st_mode):
        version = (st.st_mtime_ns, st.st_size, st.st_ino)
        with _lock:
            hit = _cache.get((kind, path))
        if hit is not None and hit[0] == version:
            return hit[1]
    else:
        version = None
    text = read_file(path)
    if text is None:
        return _empty(path, kind)
    parsed = (parse_config if kind == "config" else parse_credentials)(text, path)
    if version is None:  # it became a regular file between stat and read: do not cache
        return parsed
    with _lock:
        _parses += 1
        _cache.pop((kind, path), None)
        while len(_cache) >= _MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[(kind, path)] = (version, parsed)
    return parsed


def _process_home() -> Optional[str]:
    home = os.path.expanduser("~")  # HOME, else the password database
    return None if home == "~" else home


def load_shared_config(
    env: Optional[Mapping[str, str]] = None,
    *,
    config_file: Optional[str] = None,
    credentials_file: Optional[str] = None,
    platform: Optional[str] = None,
) -> SharedConfig:
    """Locate (see :func:`locate`) and parse both shared files, merged.

    ``env`` defaults to ``os.environ``; only then does a missing ``HOME`` fall back to the
    password database (as ``os.path.expanduser`` does). ``config_file``/``credentials_file``
    override the located paths (``~`` and ``$VARS`` are expanded against ``env``).
    """
    home = None
    if env is None:
        env = os.environ
        home = _process_home()
    located = locate(env, platform, home=home)

    def pick(given: Optional[str], default: Optional[str]) -> Optional[str]:
        return default if given is None else expand_path(given, env, platform, home=home)

    cfg = pick(config_file, located.config_file)
    creds = pick(credentials_file, located.credentials_file)
    return SharedConfig(cfg, creds, load_file(cfg, "config"), load_file(creds, "credentials"))
