"""What the command prints that it did not write itself (profile names, paths, role ARNs from
files, identities from STS, error messages quoting them) goes through :func:`shown`: a value
read from a file or a server cannot move the cursor, clear the screen, fake a line of output,
or stop the command with an encoding error."""

from __future__ import annotations

__all__ = ["shown"]


def shown(text: str, *, lines: bool = False) -> str:
    """``text`` with every character that is not printable (control characters, unpaired
    surrogates, line and paragraph separators) written as a ``\\x..``/``\\u..`` escape; with
    ``lines``, newlines are kept (the text is several lines the command composed)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or (lines and ch == "\n"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)
