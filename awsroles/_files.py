"""Reading a small file that someone else controls (token files) without hanging on it, and
the ``os.open`` flags awsroles' file code shares (0 where the platform lacks one)."""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["read_small_file", "O_BINARY", "O_CLOEXEC", "O_NOFOLLOW", "O_NONBLOCK"]

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted at a path must not hang a read
O_BINARY = getattr(os, "O_BINARY", 0)

_FLAGS = os.O_RDONLY | O_NONBLOCK | O_CLOEXEC


def read_small_file(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path`` (so a caller can tell "too
    large"). A FIFO, device or directory raises OSError (EINVAL) instead of blocking; a
    missing file raises FileNotFoundError."""
    fd = os.open(path, _FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
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
