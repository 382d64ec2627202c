#!/usr/bin/env python
"""Run the conformance harness and the botocore differential tests, then write
docs/conformance.md from the run (never by hand).

Usage, from the repository root::

    python scripts/conformance_report.py            # run, write docs/conformance.md
    python scripts/conformance_report.py --check    # also exit 1 if any test failed
    python scripts/conformance_report.py --junit existing.xml   # render a saved run

What runs:

* ``tests/test_conformance.py``: every case of the AWS SDKs' shared vectors
  (tests/conformance/), one pytest id per case, ``test_conformance_case[<suite>/<case>]``;
* the differential suite against botocore: the whole files in :data:`DIFFERENTIAL_FILES`,
  and in the other test files every test whose name says ``botocore`` or ``differential``
  (minus :data:`NOT_DIFFERENTIAL`).

pytest writes a junit XML report; this script reads outcomes, skip reasons and the
``deviation`` property each deviating case records, and renders the page.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
OUTPUT = os.path.join(ROOT, "docs", "conformance.md")
CONFORMANCE = "tests/test_conformance.py"
DIFFERENTIAL_FILES = (
    "tests/test_differential_botocore.py",
    "tests/test_differential_cli.py",
    "tests/test_web_identity_botocore.py",
    "tests/test_cache_botocore_compat.py",
)
#: Test names that mention botocore without comparing with it.
NOT_DIFFERENTIAL = {
    "test_does_not_import_botocore",
    "test_botocore_client_works_against_fake",
    "test_non_role_profiles_are_left_to_botocore",
}
_DIFFERENTIAL_NAME = re.compile(r"^def (test_\w*(?:botocore|differential)\w*)\(", re.MULTILINE)
_CASE = re.compile(r"^test_conformance_case\[(?P<suite>[^/\]]+)/(?P<case>.+)\]$")
#: Suite order on the page: the order of tests/conformance/README.md.
SUITE_ORDER = (
    "profile-parser-tests",
    "file-location-tests",
    "assume-role-tests",
    "ecs-tests",
    "imds-endpoint-tests",
    "login-provider-test-cases",
    "default-credential-provider-chain",
    "profile-provider",
    "default-token-provider-chain",
)


def differential_node_ids() -> List[str]:
    """Whole differential files, then per-provider differential tests by name."""
    ids = list(DIFFERENTIAL_FILES)
    skip = set(DIFFERENTIAL_FILES) | {CONFORMANCE}
    for name in sorted(os.listdir(TESTS)):
        rel = f"tests/{name}"
        if not (name.startswith("test_") and name.endswith(".py")) or rel in skip:
            continue
        with open(os.path.join(TESTS, name), encoding="utf-8") as f:
            text = f.read()
        for test in _DIFFERENTIAL_NAME.findall(text):
            if test not in NOT_DIFFERENTIAL:
                ids.append(f"{rel}::{test}")
    return ids


def run_pytest(junit: str, node_ids: List[str]) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "junit_family=xunit2",
        f"--junitxml={junit}",
        *node_ids,
    ]
    print("+", " ".join(cmd[:9]), f"... ({len(node_ids)} paths/tests)", flush=True)
    return subprocess.call(cmd, cwd=ROOT)


# --- reading the junit report ------------------------------------------------------------------


@dataclass
class Result:
    file: str
    name: str
    outcome: str  # passed | skipped | xfailed | failed
    message: str = ""
    properties: Dict[str, str] = field(default_factory=dict)


def read_junit(path: str) -> List[Result]:
    results = []
    for case in ET.parse(path).getroot().iter("testcase"):
        classname = case.get("classname", "")
        file = "tests/" + classname.split(".")[-1] + ".py" if classname else "?"
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", child.get("message", "")
            elif child.tag == "skipped":
                kind = child.get("type", "")
                outcome = "xfailed" if kind == "pytest.xfail" else "skipped"
                message = child.get("message", "")
        if outcome == "failed" and results and results[-1].name == case.get("name"):
            results[-1].outcome, results[-1].message = outcome, message  # teardown error
            continue
        results.append(Result(file, case.get("name", ""), outcome, message, props))
    return results


def _skip_reason(message: str) -> str:
    # pytest writes "tests/x.py:12: reason" for skip marks.
    return re.sub(r"^\S+:\d+: ", "", message).strip()


# --- rendering ---------------------------------------------------------------------------------


def _versions() -> str:
    try:
        import botocore

        boto = f"botocore {botocore.__version__}"
    except ImportError:  # pragma: no cover
        boto = "botocore not installed"
    return f"Python {platform.python_version()}, {boto}"


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(results: List[Result]) -> str:
    suites: OrderedDict[str, List[tuple]] = OrderedDict((s, []) for s in SUITE_ORDER)
    harness: List[Result] = []
    differential: OrderedDict[str, List[Result]] = OrderedDict()
    for r in results:
        m = _CASE.match(r.name)
        if r.file == CONFORMANCE and m:
            suites.setdefault(m["suite"], []).append((m["case"], r))
        elif r.file == CONFORMANCE:
            harness.append(r)
        else:
            differential.setdefault(r.file, []).append(r)

    lines = [
        "# Conformance",
        "",
        "<!-- Generated by scripts/conformance_report.py from a test run. Do not edit. -->",
        "",
        "Generated from a test run, not by hand. To regenerate it, from the repository root:",
        "",
        "```",
        "python scripts/conformance_report.py          # runs the tests, rewrites this page",
        "python scripts/conformance_report.py --check  # the same, exit status 1 on a failure",
        "```",
        "",
        "It runs `tests/test_conformance.py` (every case of the AWS SDKs' shared test vectors,",
        "vendored under `tests/conformance/`; see its `README.md` and `ORIGIN.md`) and the",
        "differential tests against botocore, with a junit report, and renders the outcome.",
        "",
        f"Last run: {datetime.now(timezone.utc).strftime('%Y-%m-%d')} UTC, {_versions()}.",
        "",
        "How a case runs: scenario folders replay their environment, a copy of their file tree",
        "as a throwaway root, and their recorded HTTP traffic through",
        "`awsroles.testing.replay.ReplayTransport` (method, URI, `content-type`,",
        "`x-aws-ec2-metadata-token` and STS form bodies checked, strictly in order, every",
        "exchange consumed), through `awsroles.resolve(...)`, on a clock frozen at the epoch.",
        "Error cases assert an `awsroles.AwsRolesError` of a named class (the vectors' error",
        "strings are the Rust SDK's). *Deviations* are deliberate: the case asserts botocore's",
        "behaviour instead of the vector's (docs/differences.md).",
        "",
        "## Shared SDK vectors",
        "",
    ]
    rows = []
    totals = [0, 0, 0, 0, 0, 0]
    for suite, cases in suites.items():
        if not cases:
            continue
        n = len(cases)
        dev = sum(1 for _, r in cases if r.outcome == "passed" and "deviation" in r.properties)
        passed = sum(1 for _, r in cases if r.outcome == "passed") - dev
        skipped = sum(1 for _, r in cases if r.outcome == "skipped")
        xfailed = sum(1 for _, r in cases if r.outcome == "xfailed")
        failed = sum(1 for _, r in cases if r.outcome == "failed")
        for i, v in enumerate((n, passed, dev, skipped, xfailed, failed)):
            totals[i] += v
        rows.append([f"`{suite}`", *(str(v) for v in (n, passed, dev, skipped, xfailed, failed))])
    rows.append(["**total**", *(f"**{v}**" for v in totals)])
    header = ["suite", "cases", "passed", "passed as a deviation", "skipped"]
    lines += _table(header + ["xfailed (bug)", "failed"], rows)
    in_scope = totals[0] - totals[3]
    ok = totals[1] + totals[2]
    lines += [
        "",
        f"In scope (not skipped): {in_scope} cases; {ok} pass "
        f"({100.0 * ok / in_scope if in_scope else 0:.1f}%).",
        "",
    ]

    def section(title: str, items: List[tuple], empty: str) -> None:
        lines.extend([f"### {title}", ""])
        if not items:
            lines.extend([empty, ""])
            return
        grouped: OrderedDict[str, List[str]] = OrderedDict()
        for case_id, reason in items:
            grouped.setdefault(reason, []).append(case_id)
        for reason, ids in grouped.items():
            lines.append(f"- {_esc(reason)} ({len(ids)}):")
            lines.extend(f"  - `{i}`" for i in ids)
        lines.append("")

    every = [(f"{s}/{c}", r) for s, cases in suites.items() for c, r in cases]
    section(
        "Skipped",
        [(i, _skip_reason(r.message)) for i, r in every if r.outcome == "skipped"],
        "None.",
    )
    section(
        "Deviations (botocore's behaviour asserted)",
        [(i, r.properties["deviation"]) for i, r in every if "deviation" in r.properties],
        "None.",
    )
    section(
        "Known bugs (xfail, strict)",
        [(i, _skip_reason(r.message)) for i, r in every if r.outcome == "xfailed"],
        "None.",
    )
    section(
        "Failed",
        [(i, r.message or "failed") for i, r in every if r.outcome == "failed"],
        "None.",
    )
    if harness:
        bad = [r for r in harness if r.outcome != "passed"]
        lines += [
            "Harness self-checks (counts pinned per suite, replay transport strictness): "
            f"{len(harness) - len(bad)} of {len(harness)} passed.",
            "",
        ]
        lines += [f"- `{r.name}`: {r.outcome} {_esc(r.message)}" for r in bad]
        if bad:
            lines.append("")

    lines += [
        "## Differential tests against botocore",
        "",
        "The same configurations resolved by awsroles and by botocore 1.43 itself (the CLI's",
        "cache injected), against a local STS and the other local fakes: the ordered STS",
        "calls and their parameters, the cache file names and content, and the final",
        "credentials compared. Whole files, then per-provider tests named after botocore.",
        "",
    ]
    rows = []
    dtotal = [0, 0, 0, 0]
    for file, items in differential.items():
        n = len(items)
        passed = sum(r.outcome == "passed" for r in items)
        skipped = sum(r.outcome in ("skipped", "xfailed") for r in items)
        failed = sum(r.outcome == "failed" for r in items)
        for i, v in enumerate((n, passed, skipped, failed)):
            dtotal[i] += v
        rows.append([f"`{file}`", str(n), str(passed), str(skipped), str(failed)])
    rows.append(["**total**", *(f"**{v}**" for v in dtotal)])
    lines += _table(["file", "tests", "passed", "skipped", "failed"], rows)
    lines.append("")
    dskips = [
        (f"{r.file}::{r.name}", _skip_reason(r.message))
        for items in differential.values()
        for r in items
        if r.outcome in ("skipped", "xfailed")
    ]
    dfails = [
        (f"{r.file}::{r.name}", r.message or "failed")
        for items in differential.values()
        for r in items
        if r.outcome == "failed"
    ]
    section("Skipped differential tests", dskips, "None.")
    section("Failed differential tests", dfails, "None.")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=OUTPUT, help="where to write (docs/conformance.md)")
    parser.add_argument("--junit", help="render this junit XML instead of running pytest")
    parser.add_argument("--check", action="store_true", help="exit 1 if any test failed")
    args = parser.parse_args(argv)
    if args.junit:
        status, junit = 0, args.junit
    else:
        tmp = tempfile.mkdtemp(prefix="awsroles-conformance-")
        junit = os.path.join(tmp, "junit.xml")
        status = run_pytest(junit, [CONFORMANCE, *differential_node_ids()])
        if not os.path.exists(junit):
            print("pytest wrote no report", file=sys.stderr)
            return 2
    results = read_junit(junit)
    page = render(results)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(page)
    failed = sum(r.outcome == "failed" for r in results)
    print(f"wrote {os.path.relpath(args.output, ROOT)}: {len(results)} tests, {failed} failed")
    if args.check and (failed or status not in (0, 5)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
