"""Every secret the fakes issue or accept, so a test suite can check that none of them ever
reaches a log record (tests/conftest.py does this for awsroles' own suite at DEBUG level)."""

from __future__ import annotations

import re
import secrets as _secrets
import threading
from typing import Iterable, List, Optional, Set

__all__ = ["new_secret", "remember", "find_leaks"]

_LOCK = threading.Lock()
_KNOWN: Set[str] = set()
_MIN_LEN = 12  # shorter values (MFA codes, "s") are too common to look for
_WORDS = re.compile(r"[A-Za-z0-9_\-+/=.~]{12,}")


def remember(*values: Optional[str]) -> None:
    with _LOCK:
        for value in values:
            if isinstance(value, str) and len(value) >= _MIN_LEN:
                _KNOWN.add(value)


def new_secret(nbytes: int, prefix: str = "") -> str:
    """``prefix + secrets.token_urlsafe(nbytes)``, remembered."""
    value = prefix + _secrets.token_urlsafe(nbytes)
    remember(value)
    return value


def find_leaks(texts: Iterable[str]) -> List[str]:
    """The remembered secrets that appear in ``texts`` (as whole words or inside them)."""
    with _LOCK:
        known = set(_KNOWN)
    found = []
    for text in texts:
        for word in _WORDS.findall(text):
            if word in known:
                found.append(word)
            else:
                found.extend(k for k in known if len(k) <= len(word) and k in word)
    return found
