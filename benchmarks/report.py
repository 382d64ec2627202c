"""Judging the figures against the targets, and writing docs/performance.md."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import loop_lag
from common import median, ratio

Row = Dict[str, Any]


def _ms(x: float) -> str:
    return f"{x:.1f} ms"


def _r(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def rows(res: Dict[str, Any]) -> List[Row]:
    """One row per target: what, awsroles, botocore, ratio awsroles/botocore, target, met."""
    out: List[Row] = []
    if "P1" in res:
        m = res["P1"]["median"]
        r = ratio(m["awsroles"], m["botocore"])
        over = m["awsroles"] - m["bare"]
        out.append(
            dict(
                id="P1",
                what="fresh process, valid cache entry, 2-hop assume-role profile "
                "(median wall time)",
                awsroles=f"{_ms(m['awsroles'])} (bare + {over:.1f} ms)",
                botocore=f"{_ms(m['botocore'])} (bare + {m['botocore'] - m['bare']:.1f} ms)",
                ratio=_r(r),
                target=f"<= bare python ({_ms(m['bare'])}) + 20 ms, and <= 0.3 x botocore",
                met=over <= 20.0 and r is not None and r <= 0.3,
            )
        )
    if "P2" in res:
        m = res["P2"]["median"]
        r = ratio(m["awsroles"], m["botocore"])
        per = res["P2"]["assume_role_per_process"]
        out.append(
            dict(
                id="P2",
                what="fresh process, empty cache, one AssumeRole to the local STS (median)",
                awsroles=f"{_ms(m['awsroles'])} ({per['awsroles']} AssumeRole/process)",
                botocore=f"{_ms(m['botocore'])} ({per['botocore']} AssumeRole/process)",
                ratio=_r(r),
                target="<= 0.5 x botocore",
                met=r is not None and r <= 0.5,
            )
        )
    if "P3" in res:
        p = res["P3"]
        a, b = p["awsroles"]["assume_role"], p["botocore"]["assume_role"]
        out.append(
            dict(
                id="P3",
                what=f"{p['processes']} processes released together, empty cache: AssumeRole calls "
                "(each repetition)",
                awsroles=f"{a} (distinct keys {p['awsroles']['distinct_keys']})",
                botocore=f"{b} (distinct keys {p['botocore']['distinct_keys']})",
                ratio=_r(ratio(max(a), max(b))),
                target="exactly 1 (botocore: one per process)",
                met=all(c == 1 for c in a),
            )
        )
    if "P4" in res:
        m = res["P4"]["median"]
        r = ratio(m["awsroles"], m["botocore"])
        out.append(
            dict(
                id="P4",
                what="get_frozen_credentials() on fresh refreshable credentials (median calls/s)",
                awsroles=f"{m['awsroles'] / 1e6:.2f} M/s ({1e9 / m['awsroles']:.0f} ns/call)",
                botocore=f"{m['botocore'] / 1e6:.2f} M/s ({1e9 / m['botocore']:.0f} ns/call)",
                ratio=_r(r) + " (calls/s)",
                target=">= 2 x botocore's calls per second",
                met=r is not None and r >= 2.0,
            )
        )
    if "P5" in res:
        a, b = res["P5"]["awsroles"], res["P5"]["botocore"]
        out.append(
            dict(
                id="P5",
                what="IMDS requests per credential refresh once a token is held",
                awsroles=f"{a['per_refresh']:g} per refresh (first retrieval {a['first']})",
                botocore=f"{b['per_refresh']:g} per refresh (first retrieval {b['first']})",
                ratio=_r(ratio(a["per_refresh"], b["per_refresh"])),
                target="<= 2 (report botocore's)",
                met=a["per_refresh"] <= 2 and a["failed"] == 0,
            )
        )
    if "P6" in res:
        a, b = res["P6"]["awsroles"], res["P6"]["botocore"]
        out.append(
            dict(
                id="P6",
                what=f"{res['P6']['threads']} threads calling get_frozen_credentials() for "
                f"{res['P6']['seconds']:g} s during an advisory refresh, STS delay "
                f"{res['P6']['delay']:g} s (worst repetition)",
                awsroles=f"p99 {a['p99_ms']:.3f} ms, max {a['max_ms']:.1f} ms "
                f"({a['calls']} calls during the refresh); "
                f"{a['assume_role']} AssumeRole, {a['max_in_flight']} in flight",
                botocore=f"p99 {b['p99_ms']:.3f} ms, max {b['max_ms']:.1f} ms "
                f"({b['calls']} calls during the refresh); "
                f"{b['assume_role']} AssumeRole, {b['max_in_flight']} in flight",
                ratio=_r(ratio(a["p99_ms"], b["p99_ms"])) + " (p99)",
                target="p99 <= 1 ms; one refresh in flight",
                met=a["p99_ms"] <= 1.0
                and a["assume_role"] == 1
                and a["max_in_flight"] == 1
                and a["refreshed"],
            )
        )
    if "P7" in res:
        m = res["P7"]["median_mib"]
        r = ratio(m["awsroles"], m["botocore"])
        out.append(
            dict(
                id="P7",
                what="peak RSS (ru_maxrss) of a process that imports and resolves the cached "
                "profile (median)",
                awsroles=f"{m['awsroles']:.1f} MiB",
                botocore=f"{m['botocore']:.1f} MiB",
                ratio=_r(r),
                target=f"<= botocore's (bare python: {m['bare']:.1f} MiB)",
                met=r is not None and r <= 1.0,
            )
        )
    if "P8" in res:
        out.append(loop_lag.row(res["P8"]))
    return out


def text_table(table: List[Row]) -> str:
    lines = []
    for row in table:
        verdict = "MET" if row["met"] else "NOT MET"
        lines.append(f"{row['id']}  {row['what']}")
        lines.append(f"    awsroles: {row['awsroles']}")
        lines.append(f"    botocore: {row['botocore']}")
        lines.append(f"    ratio awsroles/botocore: {row['ratio']}")
        lines.append(f"    target: {row['target']}  -> {verdict}")
    return "\n".join(lines)


HOW = [
    "Both start-up paths were profiled first (the profile headlines below); almost all of their",
    "time was imports. What awsroles does about it, without changing behaviour:",
    "",
    "- **Warm path** (P1: the cache entry is valid): nothing beyond the config parser, the plan",
    "  and the cache reader is imported; no HTTP code, no signing code, no lock code, no",
    "  background worker (`tests/test_warm_path.py` checks). Logging, the providers and",
    "  `dateutil` load only when used. `typing` is not imported at all: annotations are for",
    "  type checkers (`TYPE_CHECKING` imports, `from __future__ import annotations`), and",
    "  records are awsroles' own small class rather than `dataclasses` (which imports",
    "  `inspect`). Only public standard-library modules are used (`json`, `datetime`,",
    "  `hashlib`).",
    "- **Cold path** (P2: STS must be called). The three libraries this path would import cost",
    "  about 200 ms together, so each is replaced by a small standard-library equivalent that",
    "  is checked against the library:",
    "    - SigV4: `awsroles/sts/sigv4.py` produces, byte for byte, the headers of",
    "      `botocore.auth.SigV4Auth` (`tests/test_sigv4.py` compares them on generated",
    "      requests; the local FakeSTS verifies every signature with `botocore.auth`).",
    "    - HTTP: `awsroles/transport/stdlib.py` on `http.client`, with connection reuse; a",
    "      request whose route (`awsroles/transport/rules.py`) goes through a proxy or follows",
    "      redirects is handed to requests, on the same route.",
    "    - The cache lock: `awsroles/cache/lock.py` makes the `flock(2)` call that",
    "      `filelock.UnixFileLock` makes, on the same file (the two exclude each other); where",
    "      `flock` is unavailable, `filelock` itself.",
    "- **Long-running processes** (P4, P6): `get_frozen_credentials()` reads one immutable",
    "  snapshot without a lock; the advisory refresh runs in one background worker.",
]


def markdown(res: Dict[str, Any], table: List[Row], meta: Dict[str, Any]) -> str:
    m = meta["machine"]
    md: List[str] = [
        "# Performance: awsroles and botocore, side by side",
        "",
        "Generated by `benchmarks/run.py` (do not edit by hand; run it again). Both libraries",
        "run in the same run, on the same machine, against the same local endpoints: "
        "`awsroles.testing.fake_sts.FakeSTS` and `awsroles.testing.fake_imds.FakeIMDS`, started",
        "by the runner on 127.0.0.1. Child processes run a fresh virtualenv in which awsroles is",
        "installed as users install it (a wheel of this checkout, not an editable install,",
        "whose import hook would slow every start), with an environment built from scratch",
        "(`HOME`, `PATH`, `AWS_EC2_METADATA_DISABLED=true` except where IMDS is the fake,",
        "`AWS_ENDPOINT_URL_STS` pointing at the fake). Ratios are the figure to read; absolute",
        "times depend on the machine.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores",
        f"- OS: {m['os']}",
        f"- Python: {m['python']}",
        f"- botocore: {m['botocore']}",
        f"- awsroles commit: {m['awsroles']}",
        f"- awsroles in the child processes: {meta['child_install']}",
        f"- run at: {meta['when']} ({meta['duration_s']:.0f} s, mode: {meta['mode']})",
        f"- load average (1/5/15 min) before: {meta['load_before']}, after: {meta['load_after']}",
        "",
        "## Command",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        f"Repetitions: {meta['reps']}.",
        "",
        "## Results",
        "",
        "| | what | awsroles | botocore | awsroles / botocore | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table:
        md.append(
            f"| {row['id']} | {row['what']} | {row['awsroles']} | {row['botocore']} | "
            f"{row['ratio']} | {row['target']} | {'yes' if row['met'] else '**no**'} |"
        )
    md += ["", "## What keeps the start-up paths short", ""]
    md += HOW
    md += ["", "## Details", ""]
    md += details(res)
    md += ["", "## What each measurement runs", ""]
    md += meta["scripts"]
    return "\n".join(md) + "\n"


def details(res: Dict[str, Any]) -> List[str]:
    out: List[str] = []
    if "P1" in res:
        p = res["P1"]
        out += [
            "### P1 warm start",
            "",
            "All repetitions (ms), in the order run (the order of the three rotates each "
            "repetition):",
            "",
        ]
        for k, v in p["times"].items():
            out.append(
                f"- {k}: median {p['median'][k]:.1f}, min {p['min'][k]:.1f}; "
                + ", ".join(f"{x:.0f}" for x in v)
            )
        out += ["", _cpu_line(p, "bare"), "", _paired_line(p["times"])]
        mods = p["modules"]
        out += [
            "",
            f"- STS calls made during the timed warm runs: {p['sts_calls_during_runs']} "
            f"(cache entries written first: {p['written']})",
            *_module_lines(mods, "warm"),
            "",
        ]
    if "imports" in res:
        out += _import_table(res["imports"], "P1", "warm")
    if "runtime" in res:
        out += [
            "### P1 runtime profile (imports done first, then the first resolve)",
            "",
            "Every module the warm path loads is imported first; what is left is the work "
            f"itself: {res['runtime']['ms']:.2f} ms (median of 5, unprofiled). cProfile, "
            "awsroles functions by cumulative time:",
            "",
            "```",
            res["runtime"]["profile"],
            "```",
            "",
        ]
    if "P2" in res:
        p = res["P2"]
        out += ["### P2 cold start", ""]
        for k, v in p["times"].items():
            out.append(
                f"- {k}: median {p['median'][k]:.1f} ms, min {p['min'][k]:.1f} ms; "
                + ", ".join(f"{x:.0f}" for x in v)
            )
        out += ["", _cpu_line(p, None), ""]
        if p.get("modules"):
            out += [*_module_lines(p["modules"], "cold"), ""]
    if "cold_imports" in res:
        out += _import_table(res["cold_imports"], "P2", "cold")
    if "P3" in res:
        p = res["P3"]
        out += ["### P3 stampede", ""]
        for k in ("awsroles", "botocore"):
            out.append(
                f"- {k}: AssumeRole per repetition {p[k]['assume_role']}, distinct access keys "
                f"{p[k]['distinct_keys']}, gate to last exit "
                + ", ".join(f"{x:.0f}" for x in p[k]["ms"])
                + " ms"
            )
        out.append("")
    if "P4" in res:
        p = res["P4"]
        out += [f"### P4 throughput ({p['calls']} calls per repetition)", ""]
        for k, v in p["rates"].items():
            out.append(f"- {k}: " + ", ".join(f"{x / 1e6:.2f}" for x in v) + " M calls/s")
        out.append("")
    if "P5" in res:
        p = res["P5"]
        out += [f"### P5 IMDS ({p['refreshes']} forced refreshes each)", ""]
        for k in ("awsroles", "botocore"):
            out.append(f"- {k}: {p[k]}")
        out.append("")
    if "P6" in res:
        out += [
            "### P6 advisory refresh under load (every repetition)",
            "",
            "Latencies in ms. *During*: calls that started before the refresh completed (the "
            "first call returning the new credentials ended); *after*: the rest of the second. "
            "The callers spin in pure Python and share one GIL: a call preempted at a switch "
            "interval (5 ms) waits for every other thread's turn, so maxima of tens of "
            "milliseconds appear in both libraries even once the credentials are fresh again; "
            "the percentiles are the figure to read.",
            "",
        ]
        for k in ("awsroles", "botocore"):
            for run in res["P6"]["runs"][k]:
                out.append(
                    f"- {k}: during {_lat(run)}; after {_lat(run['after'])}; refresh seen "
                    f"after {run['refresh_seen_after_ms']:.0f} ms; {run['assume_role']} "
                    f"AssumeRole, at most {run['max_in_flight']} in flight; refreshed "
                    f"{run['refreshed']}"
                )
        out.append("")
    if "P7" in res:
        p = res["P7"]
        out += ["### P7 peak RSS (KiB, every repetition)", ""]
        for k, v in p["kib"].items():
            out.append(f"- {k}: ru_maxrss {v}; VmHWM (cross-check) {p['vmhwm_kib'][k]}")
        out.append("")
    if "P8" in res:
        out += ["### P8 asyncio loop lag", ""] + loop_lag.details(res["P8"]) + [""]
    return out


def _cpu_line(p: Dict[str, Any], bare: Optional[str]) -> str:
    c = p["cpu_median"]
    parts = [f"{k} {v:.1f} ms" for k, v in c.items()]
    r = ratio(c["awsroles"], c["botocore"])
    extra = f", awsroles - bare {c['awsroles'] - c[bare]:.1f} ms" if bare else ""
    return (
        "- CPU time of the child (user + system, median; less disturbed by other load than "
        f"wall time): {', '.join(parts)}; ratio awsroles/botocore {_r(r)}{extra}"
    )


def _paired_line(times: Dict[str, List[float]]) -> str:
    """The median of awsroles - bare over the repetitions: each pair ran back to back, so a
    drift of the machine's speed during the run moves both."""
    diffs = [a - b for a, b in zip(times["awsroles"], times["bare"])]
    of_medians = median(times["awsroles"]) - median(times["bare"])
    return (
        "- Paired (awsroles and bare Python run back to back in each repetition): median of "
        f"the differences {median(diffs):.1f} ms, against {of_medians:.1f} ms for the "
        "difference of the medians (the judged figure)"
    )


def _lat(s: Dict[str, Any]) -> str:
    return (
        f"{s['calls']} calls, p50 {s['p50_ms']:.4f}, p99 {s['p99_ms']:.4f}, "
        f"p99.9 {s['p999_ms']:.3f}, max {s['max_ms']:.1f}"
    )


def _import_table(imp: Dict[str, Any], target: str, path: str) -> List[str]:
    out = [
        f"### {target} profile headline (`python -X importtime`, awsroles {path} path)",
        "",
        f"{imp['count']} modules beyond bare `python` start-up, {imp['total_ms']:.1f} ms of "
        "import time (as `-X importtime` measures it, which inflates it). Largest "
        "top-level imports (cumulative):",
        "",
        "| module | cumulative ms | self ms |",
        "|---|---|---|",
    ]
    out += [
        f"| `{r['name']}` | {r['cum'] / 1000:.1f} | {r['self'] / 1000:.1f} |"
        for r in imp["top_cumulative"]
    ]
    out += ["", "Largest self times:", "", "| module | self ms |", "|---|---|"]
    out += [f"| `{r['name']}` | {r['self'] / 1000:.1f} |" for r in imp["top_self"]]
    out.append("")
    return out


def _module_lines(mods: Dict[str, Any], path: str) -> List[str]:
    counts = ", ".join(f"{lib} {mods[lib]['modules']}" for lib in mods)
    return [
        f"- modules loaded: {counts}",
        f"- heavy modules on awsroles' {path} path: {mods['awsroles']['heavy'] or 'none'} "
        f"(botocore's: {mods['botocore']['heavy']})",
    ]
