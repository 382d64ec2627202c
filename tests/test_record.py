"""The small record type that replaces dataclasses on the warm path."""

import pytest

from awsroles._record import Record, field
from awsroles.credentials import Credentials


class Point(Record):
    _hidden = frozenset({"secret"})
    x: int
    y: int = 0
    secret: str = "s3cr3t"


def test_init_defaults_eq_hash_repr_replace():
    p = Point(1, secret="zz")
    assert (p.x, p.y, p.secret) == (1, 0, "zz")
    assert p == Point(x=1, secret="zz") and hash(p) == hash(Point(1, 0, "zz"))
    assert p != Point(2)
    assert repr(p) == "Point(x=1, y=0)"
    assert p.replace(y=5) == Point(1, 5, "zz")
    with pytest.raises(AttributeError):
        p.x = 3
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, nope=2)
    with pytest.raises(TypeError):
        Point(1, x=2)


def test_mutable_record_and_factories():
    class Bag(Record, frozen=False):
        name: str
        items: list = field(default_factory=list)

    a, b = Bag("a"), Bag("b")
    a.items.append(1)
    assert b.items == [] and a.items == [1]
    a.name = "renamed"
    assert a.name == "renamed"
    with pytest.raises(TypeError):
        hash(a)


def test_credentials_keep_their_behaviour():
    from datetime import datetime

    c = Credentials("AKIAEXAMPLE", "Sekrit-Value", "Tok-Value", datetime(2030, 1, 1))
    assert c.expiry.tzinfo is not None  # __post_init__ ran
    assert "Sekrit-Value" not in repr(c) and "Tok-Value" not in repr(c)
    assert c.get_frozen_credentials() is c
