"""The documentation: the mkdocs site builds with --strict, and every ```python block in
docs/*.md and README.md runs.

How a block runs (docs/testing.md, "How the examples in these pages run"):

* a block that defines ``test_*`` functions is a test module: all of them are run by one
  pytest process, with the awsroles plugin, as a user's suite would run them;
* any other block is executed in a fresh namespace inside ``local_aws(patch_environ=True)``
  (a local STS, a throwaway HOME with profiles ``base`` and ``dev``, ``os.environ`` pointing
  at them), in a temporary working directory;
* a block right after ``<!-- no-run: reason -->`` (or ``<!-- no-run -->``) is skipped, with
  the reason; one after ``<!-- needs: module -->`` is skipped when that optional module is not
  installed (aiobotocore on an interpreter it does not support).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
_FENCE = re.compile(r"^```\s*([\w+-]*)")
_NO_RUN = re.compile(r"^<!--\s*no-run\b:?\s*(.*?)\s*-->\s*$")
_NEEDS = re.compile(r"^<!--\s*needs:\s*([\w.]+)\s*-->\s*$")
_DEFINES_TESTS = re.compile(r"^(?:async\s+)?def test_\w*\(", re.M)


class Block(NamedTuple):
    path: str  # relative to the repository root
    line: int  # of the opening fence
    code: str
    no_run: Optional[str]  # the reason, when marked
    needs: Optional[str] = None  # an optional module the block imports

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def is_test_module(self) -> bool:
        return bool(_DEFINES_TESTS.search(self.code))

    @property
    def module_name(self) -> str:
        return "test_doc_" + re.sub(r"\W", "_", self.id)


def markdown_files() -> List[str]:
    pages = sorted(os.path.join(DOCS, n) for n in os.listdir(DOCS) if n.endswith(".md"))
    return pages + [os.path.join(ROOT, "README.md")]


def python_blocks(path: str) -> List[Block]:
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks: List[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1).lower()
        i += 1
        body: List[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if lang not in ("python", "py"):
            continue
        before = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        marker = _NO_RUN.match(before.strip())
        no_run = None
        if marker:
            no_run = marker.group(1) or "marked <!-- no-run --> (no reason given)"
        needs = _NEEDS.match(before.strip())
        rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
        code = "\n".join(body) + "\n"
        blocks.append(Block(rel, start + 1, code, no_run, needs.group(1) if needs else None))
    return blocks


BLOCKS = [b for path in markdown_files() for b in python_blocks(path)]


# --- the site ------------------------------------------------------------------------------


def _mkdocs() -> Optional[str]:
    """The mkdocs command of the environment running the tests (beside its python)."""
    where = os.path.dirname(sys.executable)
    for name in ("mkdocs", "mkdocs.exe"):
        path = os.path.join(where, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def test_mkdocs_build_strict(tmp_path):
    """The site, API reference included, builds with --strict: no broken link or anchor, no
    page outside the nav, no docstring mkdocstrings cannot render. Built outside the
    repository (``-d``), so the run leaves nothing behind."""
    mkdocs = _mkdocs()
    if mkdocs is None:  # pragma: no cover - installed by `pip install -e '.[test]'`
        pytest.skip(f"no mkdocs beside {sys.executable} (pip install -e '.[test]' installs it)")
    site = tmp_path / "site"
    done = subprocess.run(
        [
            mkdocs,
            "build",
            "--strict",
            "--config-file",
            os.path.join(ROOT, "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    assert (site / "index.html").is_file()
    assert (site / "testing" / "index.html").is_file()
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in (
        "awsroles.resolve",
        "awsroles.context.Settings",
        "awsroles.providers.base.Applies",
        "awsroles.refresh.sync.RefreshableCredentials",
        "awsroles.testing.local.local_aws",
    ):
        assert f'id="{name}"' in api, f"{name} is missing from the API reference"


def test_every_page_is_in_the_nav():
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with mkdocs")
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as f:
        config = yaml.safe_load(f)
    assert config["strict"] is True

    def pages(nav):
        for item in nav:
            for value in item.values() if isinstance(item, dict) else [item]:
                if isinstance(value, list):
                    yield from pages(value)
                else:
                    yield value

    in_nav = list(pages(config["nav"]))
    assert in_nav[0] == "index.md"
    assert sorted(in_nav) == sorted(n for n in os.listdir(DOCS) if n.endswith(".md"))


# --- the examples --------------------------------------------------------------------------


def test_the_examples_are_found():
    by_file: Dict[str, int] = {}
    for b in BLOCKS:
        by_file[b.path] = by_file.get(b.path, 0) + 1
    for page in ("README.md", "docs/index.md", "docs/testing.md", "docs/integrations.md"):
        assert by_file.get(page, 0) >= 1, page
    assert any(b.is_test_module for b in BLOCKS)
    # docs/performance.md is generated: its scripts read the benchmark runner's argv
    written = [b for b in BLOCKS if b.no_run and b.path != "docs/performance.md"]
    assert len(written) <= 2, "keep <!-- no-run --> blocks to a minimum"
    for b in BLOCKS:
        compile(b.code, b.id, "exec")  # every block is valid Python, run or not


@pytest.fixture(scope="module")
def doc_test_modules(tmp_path_factory):
    """Run every block that defines tests, in one pytest process; outcome per module."""
    blocks = [b for b in BLOCKS if b.is_test_module and not b.no_run]
    where = tmp_path_factory.mktemp("doc_tests")
    for b in blocks:
        (where / f"{b.module_name}.py").write_text(b.code, encoding="utf-8")
    report = where / "report.xml"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers"]
    if not _plugin_installed():
        args += ["-p", "awsroles.testing.pytest_plugin"]
    args += [f"--junitxml={report}", str(where)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    done = subprocess.run(
        args, cwd=str(where), env=env, capture_output=True, text=True, timeout=300
    )
    outcome: Dict[str, Dict[str, List[str]]] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            module = case.get("classname", "").split(".")[-1]
            entry = outcome.setdefault(module, {"passed": [], "failed": []})
            bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
            if bad:
                entry["failed"].append(f"{case.get('name')}: {bad[0].get('message', '')}")
            else:
                entry["passed"].append(case.get("name", ""))
    return outcome, done.stdout + done.stderr


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
    return any(ep.name == "awsroles" for ep in group)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_example(block, request, tmp_path, monkeypatch):
    if block.no_run:
        pytest.skip(f"{block.id}: not run ({block.no_run})")
    if block.needs is not None:
        pytest.importorskip(block.needs, reason=f"{block.id} needs {block.needs}")
    if block.is_test_module:
        outcome, output = request.getfixturevalue("doc_test_modules")
        result = outcome.get(block.module_name)
        assert result is not None, f"{block.id}: pytest did not run it\n{output}"
        assert not result["failed"], f"{block.id}: {result['failed']}\n{output}"
        assert result["passed"], f"{block.id}: no test passed\n{output}"
        return
    from awsroles.testing import local_aws

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc_example__"}
    with local_aws(patch_environ=True, home=tmp_path / "home"):
        exec(compile(block.code, block.id, "exec"), namespace)
