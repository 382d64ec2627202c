"""The package as it would be published: metadata, what the sdist and the wheel carry, and a
wheel installed into a fresh virtualenv running ``awsroles demo``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    tomllib = pytest.importorskip("tomli")


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _classified_versions():
    prefix = "Programming Language :: Python :: 3."
    return [(3, int(c[len(prefix) :])) for c in _project()["classifiers"] if c.startswith(prefix)]


def test_the_classified_versions_start_at_requires_python_and_include_this_one():
    versions = _classified_versions()
    floor = re.fullmatch(r">=\s*3\.(\d+)", _project()["requires-python"])
    assert floor is not None
    assert versions[0] == (3, int(floor.group(1)))
    assert versions == [(3, n) for n in range(versions[0][1], versions[-1][1] + 1)]
    assert tuple(sys.version_info[:2]) in versions  # the suite runs on a claimed version


def test_the_readme_names_the_supported_range():
    versions = _classified_versions()
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    first, last = versions[0], versions[-1]
    assert f"Python {first[0]}.{first[1]} to {last[0]}.{last[1]}" in readme


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), ROOT],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    return wheel, sdist


@pytest.mark.slow
def test_the_metadata_has_classifiers_urls_and_license(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = z.read(name).decode()
        names = z.namelist()
    import awsroles

    assert re.search(rf"^Version: {re.escape(awsroles.__version__)}$", meta, re.M)
    assert "Requires-Python: >=3.10" in meta
    for major, minor in _classified_versions():
        assert f"Classifier: Programming Language :: Python :: {major}.{minor}" in meta
    assert "Classifier: Typing :: Typed" in meta
    assert "License-Expression: Apache-2.0" in meta
    for label in ("Documentation", "Changelog", "Issues"):
        assert re.search(rf"^Project-URL: {label}, https://", meta, re.M), label
    assert "awsroles/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "docs/", "benchmarks/")) for n in names)


@pytest.mark.slow
def test_the_sdist_carries_docs_changelog_and_tests(dist):
    _, sdist = dist
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for path in (
        "CHANGELOG.md",
        "LICENSE",
        "README.md",
        "mkdocs.yml",
        "docs/index.md",
        "docs/api.md",
        "tests/conftest.py",
        "tests/helpers.py",
        "tests/conformance/README.md",
        "awsroles/py.typed",
    ):
        assert path in names, path
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


@pytest.mark.slow
@pytest.mark.e2e
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(dist, tmp_path):
    wheel, _ = dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    demo = subprocess.run(
        [str(venv / "bin" / "awsroles"), "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(tmp_path),
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    version = subprocess.run(
        [str(venv / "bin" / "awsroles"), "--version"], env=env, capture_output=True, text=True
    )
    assert version.stdout.startswith("awsroles ")
    # the installed package is the wheel's, not this checkout
    where = subprocess.run(
        [str(python), "-c", "import awsroles; print(awsroles.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert str(venv) in where.stdout
