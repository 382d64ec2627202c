"""Providers for tests: hand the chain fixed credentials, or record that it was asked."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ..credentials import Credentials


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

    def check(self, ctx: Any) -> Tuple[bool, str]:
        return True, "static test credentials"

    def load(self, ctx: Any) -> Credentials:
        return self.credentials


class FakeProvider:
    """Returns ``result`` (credentials, None to fall through) or raises it if it is an
    exception; records each call in ``calls``."""

    def __init__(self, result: Any = None, *, name: str = "fake") -> None:
        self.name = name
        self.result = result
        self.calls: List[Any] = []

    def check(self, ctx: Any) -> Tuple[bool, str]:
        return self.result is not None, "fake provider"

    def load(self, ctx: Any) -> Any:
        self.calls.append(ctx)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result
