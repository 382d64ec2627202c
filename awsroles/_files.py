"""Files someone else may control (cache entries, tokens, lock files): reading them without
hanging, writing them atomically and privately, and the ``os.open`` flags that takes (0 where
the platform lacks one). The credential cache and the SSO token cache both write through
:func:`atomic_write`.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = [
    "read_small_file",
    "atomic_write",
    "make_private_dirs",
    "NotARegularFile",
    "O_BINARY",
    "O_CLOEXEC",
    "O_NOFOLLOW",
    "O_NONBLOCK",
]

O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
O_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted at a path must not hang a read
O_BINARY: int = getattr(os, "O_BINARY", 0)

_READ = os.O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_BINARY
#: O_EXCL refuses an existing name, a planted symlink included.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_BINARY


class NotARegularFile(OSError):
    """A FIFO, device or directory where a file was expected (errno EINVAL)."""


def read_small_file(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path`` (so a caller can tell "too
    large"). A FIFO, device or directory raises :class:`NotARegularFile` instead of
    blocking; a missing file raises FileNotFoundError."""
    fd = os.open(path, _READ)
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


def make_private_dirs(directory: str) -> None:
    """Create ``directory`` and its missing parents with mode 0700 (whatever the umask);
    directories that exist are kept as they are. OSError when it cannot be done, and
    NotADirectoryError when something else is in the way."""
    if os.path.isdir(directory):
        return
    missing = []
    path = os.path.abspath(directory)
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:  # pragma: no cover - the root always exists
            break
        path = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            continue
        if os.name != "nt":
            os.chmod(path, 0o700)  # the umask may have removed owner bits
    if not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", directory)


def atomic_write(path: str, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` at once: readers see the old file or the new one,
    never a part. The new file is 0600 from its creation, and written next to ``path`` under
    a fresh hidden name (a planted file or symlink there is never written through). The
    directory must exist. OSError when the disk refuses; nothing is left behind then."""
    directory, name = os.path.split(path)
    stem = name[:-5] if name.endswith(".json") else name
    fd, tmp = -1, ""
    for _ in range(100):
        tmp = os.path.join(directory, f".{stem}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(tmp, _CREATE, 0o600)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)  # replaces a symlink at `path`, never writes through it
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
