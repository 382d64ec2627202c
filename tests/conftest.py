import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """An environment with no AWS_* variables and HOME pointing at an empty temp dir."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home
