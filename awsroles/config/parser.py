"""Parser for the shared ``~/.aws/config`` and ``~/.aws/credentials`` files.

The grammar is the one of the cross-SDK profile-parser vectors
(``tests/conformance/smithy-rs/aws-runtime/test-data/profile-parser-tests.json``), except where
botocore keeps a value users rely on (docs/differences.md, "Profile-file parsing"):

* ``key : value`` is accepted (``:`` is a separator, as in botocore; the first ``=`` or ``:``
  on the line wins).
* Section names are split the way botocore splits them (``shlex``; ``[profile NAME]`` needs
  exactly two tokens), so any character is allowed in a profile name, and quoted names work.
  Every credentials-file section is a profile, whatever its characters.
* A property line indented *less or as much as* the property above it starts a new property
  (configparser's indentation rule); only a deeper indent continues the value above. An
  indented property right after a section header is a property, not an error.
* Full-line comments may be indented (they are comments even inside a sub-property block).
* A UTF-8 byte-order mark is accepted; ``\\r\\n`` and lone ``\\r`` end lines as in botocore.

Errors (:class:`~awsroles.errors.ConfigParseError`) name the file, the line number and what is
wrong; they never quote the line, since it may hold a secret.
"""

from __future__ import annotations

import os
import stat

from .._log import get_logger
from .._record import Record, field
from ..errors import ConfigParseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Tuple

__all__ = [
    "Section",
    "IgnoredSection",
    "ParsedFile",
    "parse_config",
    "parse_credentials",
    "parse_subproperties",
    "read_file",
    "decode",
]

logger = get_logger("awsroles")

PROFILE = "profile"
SSO_SESSION = "sso-session"
SERVICES = "services"

_COMMENT = "#;"
#: A warning names at most this many lines (a broken file could have half a million).
_MAX_LISTED_LINES = 10


class Section(Record, frozen=False):
    """One profile, sso-session or services section, after merging duplicates (last wins)."""

    _hidden = frozenset({"values"})

    kind: str  # "profile" | "sso-session" | "services"
    name: str
    #: lower-cased key -> raw value. A sub-property block is the raw string
    #: ``"\nname = value\nother = x"``; see :func:`parse_subproperties`. Never in ``repr``.
    values: Dict[str, str] = field(default_factory=dict)
    #: key -> 1-based line number where its (last) value was defined.
    lines: Dict[str, int] = field(default_factory=dict)
    #: 1-based line number of the (first) header of this section.
    line: int = 0


class IgnoredSection(Record, frozen=False):
    """A section that is not a profile/sso-session/services section (kept for error hints)."""

    header: str  # the trimmed text between the brackets
    line: int
    reason: str


class ParsedFile(Record, frozen=False):
    path: str
    kind: str = "config"  # "config" | "credentials"
    profiles: Dict[str, Section] = field(default_factory=dict)
    sso_sessions: Dict[str, Section] = field(default_factory=dict)
    services: Dict[str, Section] = field(default_factory=dict)
    ignored: List[IgnoredSection] = field(default_factory=list)


class _RawSection(Record, frozen=False):
    _hidden = frozenset({"items"})  # raw values: secret keys and tokens among them
    header: str
    line: int
    #: (key, the value's lines, line): continuation lines are appended to the list and
    #: joined once in _build (joining per line would copy the value every time: quadratic).
    items: List[Tuple[str, List[str], int]] = field(default_factory=list)


class _Property:
    __slots__ = ("index", "indent", "is_sub", "section")

    def __init__(self, section: _RawSection, index: Optional[int], indent: int, is_sub: bool):
        self.section = section
        self.index = index  # position in section.items, None for an ignored property
        self.indent = indent
        self.is_sub = is_sub

    def append(self, text: str) -> None:
        if self.index is not None:
            self.section.items[self.index][1].append(text)


# --- reading ----------------------------------------------------------------------------------


def decode(data: bytes, path: str) -> str:
    """Decode a file's bytes as UTF-8 (a leading BOM is dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", "replace")
        line = len(_split_lines(prefix))
        raise ConfigParseError(
            "the file is not valid UTF-8 (an undecodable byte is on this line)",
            file=path,
            line=max(line, 1),
            hint="Save the file with UTF-8 encoding.",
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_file(path: str) -> Optional[str]:
    """Return the decoded text of ``path``, or ``None`` when it is absent.

    A missing path, a path that is not a regular file (a directory, ``/dev/null``, a pipe) and a
    path whose directory may not be searched are ignored, as botocore ignores them. A regular
    file that cannot be read raises :class:`ConfigParseError` naming the file.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    except PermissionError:
        logger.debug("cannot look up %s (permission denied); treating it as absent", path)
        return None
    except OSError as exc:
        raise ConfigParseError(f"cannot read the file ({exc.strerror})", file=path) from None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size > MAX_FILE_BYTES:
        raise _too_large(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigParseError(
            f"cannot read the file ({exc.strerror or type(exc).__name__})",
            file=path,
            hint="Check the file's permissions and owner.",
        ) from None
    if len(data) > MAX_FILE_BYTES:  # grew between stat() and read()
        raise _too_large(path)
    return decode(data, path)


#: Shared config files are a few KB; one this large is a wrong path or an attack, and would
#: take seconds to parse on every process start.
MAX_FILE_BYTES = 4 * 1024 * 1024


def _too_large(path: str) -> ConfigParseError:
    return ConfigParseError(
        f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; AWS config and "
        "credentials files are a few kilobytes.",
        file=path,
        hint="Check AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE and the file's content.",
    )


# --- line level -------------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    # Universal newlines (\n, \r\n, \r) as Python's text mode gives botocore; not str.splitlines,
    # which would also split on \v, \f, \x1c..\x1e, \x85, \u2028, \u2029.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _header_name(stripped: str) -> Optional[str]:
    """The name in a ``[name]`` line, which only whitespace and a comment may follow; None if
    the line is not such a header. The name runs to the last ``]`` that works (configparser's
    greedy SECTCRE, ``\\[(.*)\\]\\s*(?:[#;].*)?\\Z``; no regex: a compile costs every start)."""
    first = None  # the first non-whitespace character right of ``close``: one pass, linear
    for close in range(len(stripped) - 1, 0, -1):
        ch = stripped[close]
        if ch == "]" and (first is None or first in _COMMENT):
            return stripped[1:close]
        if not ch.isspace():
            first = ch
    return None


def _strip_inline_comment(text: str) -> str:
    """Cut ``text`` at the first ``#``/``;`` preceded by whitespace."""
    prev_ws = False
    for idx, ch in enumerate(text):
        if ch in _COMMENT and prev_ws:
            return text[:idx].rstrip()
        prev_ws = ch.isspace()
    return text


def _split_property(text: str) -> tuple[Optional[str], str]:
    """``name = value`` or ``name : value`` -> (name, value); name None when no separator."""
    cut = min((i for i in (text.find("="), text.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return None, ""
    return text[:cut].strip(), text[cut + 1 :].strip()


def _raw_sections(text: str, path: str) -> list[_RawSection]:
    if text.startswith("\ufeff"):
        text = text[1:]
    sections: list[_RawSection] = []
    current: Optional[_RawSection] = None
    prop: Optional[_Property] = None
    bad_names: list[int] = []

    def fail(message: str, lineno: int, hint: Optional[str] = None) -> ConfigParseError:
        return ConfigParseError(message, file=path, line=lineno, hint=hint)

    for lineno, line in enumerate(_split_lines(text), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in _COMMENT:
            continue
        indent = len(line) - len(line.lstrip())

        if prop is not None and indent > prop.indent:  # continuation of the property above
            if prop.is_sub:
                name, _ = _split_sub(_strip_inline_comment(stripped))
                if name is None:
                    raise fail(
                        "Expected an '=' sign defining a sub-property",
                        lineno,
                        "Lines indented under `name =` must look like `key = value`.",
                    )
                if not name:
                    raise fail("Sub-property did not have a name", lineno)
            prop.append(stripped)
            continue

        if stripped.startswith("["):
            name = _header_name(stripped)
            if name is None:
                extra = "" if "]" not in stripped else " (only a comment may follow it)"
                raise fail(f"Profile definition must end with ']'{extra}", lineno)
            header = name.strip()
            if not header:
                raise fail("the section header has no name", lineno)
            current = _RawSection(header, lineno)
            sections.append(current)
            prop = None
            continue

        if current is None:
            raise fail(
                "Expected a profile definition before this line",
                lineno,
                "Put settings under a section header such as [default] or [profile NAME].",
            )
        body = _strip_inline_comment(stripped)
        name, value = _split_property(body)
        if name is None:
            if indent > 0 and prop is None:
                raise fail(
                    "Expected a property definition, found continuation",
                    lineno,
                    "An indented line continues the property above it; "
                    "there is none in this section.",
                )
            raise fail(
                "Expected an '=' sign defining a property",
                lineno,
                "Lines in a section must look like `name = value`.",
            )
        if not name:
            raise fail("Property did not have a name", lineno)
        index: Optional[int] = None
        if any(ch.isspace() for ch in name):
            bad_names.append(lineno)
        else:
            current.items.append((name.lower(), [value], lineno))
            index = len(current.items) - 1
        prop = _Property(current, index, indent, value == "")

    if bad_names:
        more = len(bad_names) - _MAX_LISTED_LINES
        logger.warning(
            "%s: ignoring %d propert%s whose name contains whitespace (line%s %s)",
            path,
            len(bad_names),
            "y" if len(bad_names) == 1 else "ies",
            "" if len(bad_names) == 1 else "s",
            ", ".join(str(n) for n in bad_names[:_MAX_LISTED_LINES])
            + (f" and {more} more" if more > 0 else ""),
        )
    return sections


def _split_sub(text: str) -> tuple[Optional[str], str]:
    if "=" not in text:
        return None, ""
    name, _, value = text.partition("=")
    return name.strip(), value.strip()


def parse_subproperties(raw: str) -> dict[str, str]:
    """Parse a sub-property block (``"\\nname = value\\nother = x"``) into a dict.

    Keys keep their case and values are not comment-stripped, exactly as botocore's nested
    parsing. Blank lines are skipped. A line without ``=`` or with an empty name raises
    :class:`ConfigParseError` (this cannot happen for blocks produced by the parser).
    """
    result: dict[str, str] = {}
    for line in raw.split("\n"):
        line = line.strip()
        if not line:
            continue
        name, value = _split_sub(line)
        if name is None:
            raise ConfigParseError("Expected an '=' sign defining a sub-property")
        if not name:
            raise ConfigParseError("Sub-property did not have a name")
        result[name] = value
    return result


# --- section level ----------------------------------------------------------------------------


def _split_header(header: str) -> Optional[list[str]]:
    if all(c in " \t" or (c.isprintable() and not c.isspace()) for c in header) and not any(
        c in header for c in "\"'\\"
    ):
        return header.split()  # what shlex.split gives when nothing is quoted or escaped
    try:
        import shlex  # botocore's splitting, for the rare header that needs it

        return shlex.split(header)
    except ValueError:  # unbalanced quotes
        return None


def _classify_config(header: str) -> tuple[Optional[str], str]:
    """Return (kind, name), or (None, reason) for a section that is none of ours."""
    for kind in (PROFILE, SSO_SESSION, SERVICES):
        if header.startswith(kind):
            parts = _split_header(header)
            if parts is None or len(parts) != 2:
                return None, f"not a valid [{kind} NAME] header"
            return kind, parts[1]
    if header == "default":
        return PROFILE, "default"
    return None, "not a profile: in the config file a profile is [default] or [profile NAME]"


def _build(
    path: str,
    kind: str,
    raws: list[_RawSection],
    classify: Callable[[str], tuple[Optional[str], str]],
) -> ParsedFile:
    parsed = ParsedFile(path=path, kind=kind)
    tables = {PROFILE: parsed.profiles, SSO_SESSION: parsed.sso_sessions, SERVICES: parsed.services}
    classified = [(raw, classify(raw.header)) for raw in raws]
    # [profile default] beats [default] wherever they are in the file.
    prefixed_default = kind == "config" and any(
        k == PROFILE and n == "default" and raw.header != "default" for raw, (k, n) in classified
    )
    for raw, (section_kind, name) in classified:
        if section_kind is None:
            parsed.ignored.append(IgnoredSection(raw.header, raw.line, name))
            continue
        if prefixed_default and raw.header == "default":
            parsed.ignored.append(
                IgnoredSection(raw.header, raw.line, "overridden by [profile default]")
            )
            continue
        table = tables[section_kind]
        section = table.get(name)
        if section is None:
            section = table[name] = Section(section_kind, name, {}, {}, raw.line)
        for key, parts, lineno in raw.items:
            section.values[key] = "\n".join(parts)
            section.lines[key] = lineno
    return parsed


def parse_config(text: str, path: str) -> ParsedFile:
    """Parse the text of a config file: ``[default]``, ``[profile NAME]``,
    ``[sso-session NAME]`` and ``[services NAME]``; other sections are ignored."""
    return _build(path, "config", _raw_sections(text, path), _classify_config)


def _classify_credentials(header: str) -> tuple[Optional[str], str]:
    if header.startswith("profile") and header[7:8].isspace():  # re's r"profile\s"
        return None, "the 'profile ' prefix belongs in the config file only"
    return PROFILE, header


def parse_credentials(text: str, path: str) -> ParsedFile:
    """Parse the text of a credentials file: every ``[NAME]`` is a profile, except
    ``[profile NAME]``, which is ignored with one warning."""
    parsed = _build(path, "credentials", _raw_sections(text, path), _classify_credentials)
    if parsed.ignored:
        listed = ", ".join(f"[{s.header}] (line {s.line})" for s in parsed.ignored)
        logger.warning(
            "%s: ignoring %s: the 'profile ' prefix belongs in the config file only; "
            "in the credentials file write the bare name, e.g. [%s]",
            path,
            listed,
            parsed.ignored[0].header.split(None, 1)[1],  # the header is "profile NAME"
        )
    return parsed
