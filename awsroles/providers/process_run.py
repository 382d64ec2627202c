"""Running a credential_process command: splitting it as botocore does, and executing it
without a shell with stdout captured (bounded), stderr passed through to the user while its
tail is kept, and a timeout that kills the command. Used by :mod:`.process`."""

from __future__ import annotations

import codecs
import subprocess
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

__all__ = ["split_command", "Run", "execute", "MAX_STDOUT", "TAIL_BYTES"]

MAX_STDOUT = 1024 * 1024
TAIL_BYTES = 2048


# --- splitting ------------------------------------------------------------------------------


def split_command(command: str, platform: Optional[str] = None) -> List[str]:
    """``botocore.compat.compat_shell_split``: ``shlex.split`` on POSIX, the Microsoft C
    runtime's rules on win32. Raises ValueError for an unterminated quote."""
    if (platform or sys.platform) == "win32":
        return _windows_split(command)
    import shlex

    return shlex.split(command)


def _windows_split(s: str) -> List[str]:
    """Split as the Microsoft C runtime does: space and tab separate; only double quotes
    quote; a run of backslashes is literal unless it ends at a double quote, where each pair
    becomes one backslash and an odd one out escapes the quote."""
    parts: List[str] = []
    buf: List[str] = []
    has_token = False  # a pair of quotes makes an (possibly empty) argument
    quoted = False
    slashes = 0
    for ch in s:
        if ch == "\\":
            slashes += 1
            continue
        if ch == '"':
            buf.append("\\" * (slashes // 2))
            odd = slashes % 2 == 1
            slashes = 0
            if odd:
                buf.append('"')
            else:
                quoted = not quoted
            has_token = True
            continue
        if slashes:
            buf.append("\\" * slashes)
            slashes = 0
            has_token = True
        if ch in " \t" and not quoted:
            if has_token or buf:
                parts.append("".join(buf))
            buf, has_token = [], False
        else:
            buf.append(ch)
            has_token = True
    if quoted:
        raise ValueError("No closing quotation")
    if slashes:
        buf.append("\\" * slashes)
        has_token = True
    if has_token or buf:
        parts.append("".join(buf))
    return parts


# --- running --------------------------------------------------------------------------------


class Run:
    """One execution: exit code, stdout (bounded), the stderr tail, and what went wrong."""

    def __init__(self) -> None:
        self.returncode: Optional[int] = None
        self.stdout = bytearray()
        self.stdout_too_large = False
        self.tail = bytearray()
        self.timed_out = False


def _write_through(sink: Any, chunk: bytes, decoder: Any) -> None:
    if sink is None:
        return
    try:
        buffer = getattr(sink, "buffer", None)
        if buffer is not None:
            sink.flush()
            buffer.write(chunk)
            buffer.flush()
        else:
            text = decoder.decode(chunk)
            if text:
                sink.write(text)
                sink.flush()
    except (OSError, ValueError, AttributeError):  # closed or odd stream: keep capturing
        pass


def _pump_stderr(pipe: Any, run: Run, sink: Any) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        while True:
            chunk = pipe.read(4096)  # unbuffered pipe: returns as soon as anything arrives
            if not chunk:
                break
            run.tail += chunk
            del run.tail[:-TAIL_BYTES]
            _write_through(sink, chunk, decoder)
    except (OSError, ValueError):
        pass


def _pump_stdout(pipe: Any, run: Run) -> None:
    try:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            if len(run.stdout) + len(chunk) > MAX_STDOUT:
                run.stdout_too_large = True
                continue  # keep draining so the child never blocks on a full pipe
            run.stdout += chunk
    except (OSError, ValueError):
        pass


def execute(argv: List[str], env: Dict[str, str], timeout: Optional[float], sink: Any) -> Run:
    """Run ``argv`` (no shell, stdin inherited) and wait at most ``timeout`` seconds (None:
    no limit), killing it after that. Raises OSError when it cannot be started."""
    proc = subprocess.Popen(  # noqa: S603 - no shell, by design (botocore does the same)
        argv,
        stdin=None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=0,
        close_fds=True,
        # Same session and process group as us: a helper may ask on /dev/tty (an MFA code,
        # a browser login), which a new session or a background group could not do.
    )
    run = Run()
    threads = [
        threading.Thread(target=_pump_stdout, args=(proc.stdout, run), daemon=True),
        threading.Thread(target=_pump_stderr, args=(proc.stderr, run, sink), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        run.returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.timed_out = True
        proc.kill()
        run.returncode = proc.wait()
    except BaseException:  # KeyboardInterrupt while waiting: do not leave the helper behind
        proc.kill()
        proc.wait()
        raise
    finally:
        # A grandchild that inherited the pipes (a background agent) may keep them open: one
        # short shared grace period, then stop waiting; the readers are daemon threads and
        # end when the grandchild closes the pipes.
        deadline = time.monotonic() + (0.5 if not run.timed_out else 0.2)
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        if not any(t.is_alive() for t in threads):
            for pipe in (proc.stdout, proc.stderr):
                try:
                    if pipe is not None:
                        pipe.close()
                except OSError:
                    pass
    return run
