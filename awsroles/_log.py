"""The ``awsroles`` loggers, without importing ``logging`` on the warm-start path.

``logging`` (with ``traceback``, ``textwrap``, ``string``) is slow to import. Until something
else has imported it, no handler or level can have been configured, so DEBUG and INFO records
would be dropped anyway: they are skipped without importing it.
WARNING and above always go through ``logging`` (its last-resort handler prints them).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict

__all__ = ["get_logger"]

_WARNING = 30


class _LazyLogger:
    __slots__ = ("name", "_logger")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: Any = None

    def _get(self) -> Any:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self.name)
        return self._logger

    def _quiet(self) -> bool:
        return self._logger is None and "logging" not in sys.modules

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if not self._quiet():
            self._get().debug(msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if not self._quiet():
            self._get().info(msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._get().warning(msg, *args, **kwargs)

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        if level >= _WARNING or not self._quiet():
            self._get().log(level, msg, *args, **kwargs)


_LOGGERS: Dict[str, _LazyLogger] = {}


def get_logger(name: str = "awsroles") -> Any:
    logger = _LOGGERS.get(name)
    if logger is None:
        logger = _LOGGERS[name] = _LazyLogger(name)
    return logger
