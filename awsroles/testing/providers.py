"""Providers for tests: hand the chain fixed credentials, or record that it was asked."""

from __future__ import annotations

from typing import Any, List, Optional, Union

from ..credentials import Credentials
from ..providers.base import Applies, NotApplicable


class StaticProvider:
    """Always supplies the same credentials.

    >>> awsroles.resolve(providers=[StaticProvider("AKIDTEST", "secret")])
    """

    def __init__(
        self,
        access_key: str = "AKIDTESTSTATIC",
        secret_key: str = "test-secret",
        token: Optional[str] = None,
        *,
        name: str = "static",
        account_id: Optional[str] = None,
    ) -> None:
        self.name = name
        self.credentials = Credentials(
            access_key, secret_key, token, account_id=account_id, method=name
        )

    def find(self, ctx: Any) -> Applies:
        return Applies(self.name, "static test credentials", lambda: self.credentials)


class FakeProvider:
    """Applies when ``result`` is credentials (None: does not apply), or raises it if it is
    an exception; records each ``find`` in ``calls``."""

    def __init__(self, result: Any = None, *, name: str = "fake") -> None:
        self.name = name
        self.result = result
        self.calls: List[Any] = []

    def find(self, ctx: Any) -> Union[Applies, NotApplicable]:
        self.calls.append(ctx)
        if isinstance(self.result, BaseException):
            raise self.result
        if self.result is None:
            return NotApplicable(self.name, "fake provider")
        result = self.result
        return Applies(self.name, "fake provider", lambda: result)
