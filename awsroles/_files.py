"""Reading a small file that someone else controls (tokens, cache entries) without hanging
on it, and
the ``os.open`` flags awsroles' file code shares (0 where the platform lacks one)."""

from __future__ import annotations

import errno
import os
import stat

__all__ = [
    "read_small_file",
    "NotARegularFile",
    "O_BINARY",
    "O_CLOEXEC",
    "O_NOFOLLOW",
    "O_NONBLOCK",
]

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted at a path must not hang a read
O_BINARY = getattr(os, "O_BINARY", 0)

_FLAGS = os.O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_BINARY


class NotARegularFile(OSError):
    """A FIFO, device or directory where a file was expected (errno EINVAL)."""


def read_small_file(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path`` (so a caller can tell "too
    large"). A FIFO, device or directory raises :class:`NotARegularFile` instead of
    blocking; a missing file raises FileNotFoundError."""
    fd = os.open(path, _FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(errno.EINVAL, "not a regular file", path)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
