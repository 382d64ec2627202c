"""What the command prints that it did not write itself (profile names, paths, role ARNs from
files, identities from STS, error messages quoting them) goes through :func:`shown`: a value
read from a file or a server cannot move the cursor, clear the screen, fake a line of output,
or stop the command with an encoding error. Text the library composed of several lines
(``explain``) has each line escaped where it was composed."""

from __future__ import annotations

from ..errors import printable

__all__ = ["shown"]


def shown(text: str, *, lines: bool = False) -> str:
    """``text`` with every character that is not printable written as an escape
    (:func:`awsroles.errors.printable`); with ``lines``, the newlines of text the library
    composed of several lines are kept."""
    if lines:
        return "\n".join(printable(line) for line in text.split("\n"))
    return printable(text)
