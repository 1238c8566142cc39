"""Mutation testing of the scoped modules against the default test run (``ci`` profile).

Run through ``scripts/mutation.sh`` (``--help`` there). Cosmic Ray enumerates the mutants
(operators narrowed in scripts/mutation.toml), applies each one to the file on disk and restores
it (MindSpore's GRAPH mode parses function source from disk, so an import-hook mutation would be
invisible to it); its session database keeps the results. This driver decides what to run:

- the map: one run of the default tests under coverage with per-test contexts, in a scratch copy
  of the repository, records which tests execute each line of each module and how long each test
  takes; a changed test file is re-measured on its own, any other change rebuilds the map;
- per mutant, the tests that execute its statement (else its function, else any line of its
  module), fastest first, stopping at the first failure; a mutant they do not kill must also pass
  the confirmation set (the whole module's tests, or its function's) before it is a survivor;
- each selection runs in a child forked from a process that already imported the heavy
  libraries (the product modules are imported fresh by every child, from the mutated file).

Everything runs in ``OUT/work`` (a scratch copy): an interrupted run leaves the working tree as
it was. Reports are written whole (a temporary file renamed into place).
"""
import argparse
import ast
import difflib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "mutation.toml"
SCOPE_PACKAGES = ("ms_acmix", "acmix_common", "ckpt_convert")
TEST_DIRS = ("tests", "parity")


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_config() -> dict:
    with open(CONFIG, "rb") as f:
        return tomllib.load(f)


# ---------------------------------------------------------------------------------------------
# Scratch copy
# ---------------------------------------------------------------------------------------------

def repo_files() -> List[str]:
    """Tracked files and untracked ones git does not ignore (what a commit would hold)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    return sorted(p for p in out.split("\0") if p and (ROOT / p).is_file())


def make_scratch(work: Path) -> None:
    """``work`` := a fresh copy of the repository's files (no __pycache__, no outputs)."""
    if work.exists():
        shutil.rmtree(work)
    for rel in repo_files():
        dst = work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dst)
    (work / ".venv").symlink_to(ROOT / ".venv")  # tests start .venv/bin/python subprocesses


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def input_shas() -> Dict[str, str]:
    """sha of every Python/YAML/TOML file of the repository but the mutation tool's own."""
    return {rel: sha(ROOT / rel) for rel in repo_files()
            if rel.endswith((".py", ".yaml", ".toml", ".ini", ".cfg"))
            and not rel.startswith("scripts/mutation")}


def is_test_file(rel: str) -> bool:
    return rel.split("/")[0] in TEST_DIRS and os.path.basename(rel).startswith("test_")


# ---------------------------------------------------------------------------------------------
# pytest plugin (loaded with -p mutation_driver in the map runs): per-test time and outcome
# ---------------------------------------------------------------------------------------------

_TIMES: Dict[str, Dict[str, object]] = {}


def pytest_runtest_logreport(report):  # noqa: D401 (pytest hook)
    entry = _TIMES.setdefault(report.nodeid, {"s": 0.0, "ok": True})
    entry["s"] = round(float(entry["s"]) + report.duration, 3)
    if report.failed or (report.when == "call" and report.skipped) or (
            report.when == "setup" and report.skipped):
        entry["ok"] = False


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("MUTATION_TIMES")
    if path:
        Path(path).write_text(json.dumps(_TIMES))


# ---------------------------------------------------------------------------------------------
# The map: which tests execute which line
# ---------------------------------------------------------------------------------------------

def run_map(work: Path, out: Path, targets: Sequence[str]) -> Tuple[dict, dict]:
    """Run ``targets`` (test paths) under coverage in ``work``: ({nodeid: {s, ok}},
    {relpath: {line: [nodeid]}}) for the scope packages."""
    import coverage

    data_file = out / "map.coverage"
    times_file = out / "map_times.json"
    for p in (data_file, times_file):
        if p.exists():
            p.unlink()
    env = dict(os.environ, PYTHONPATH=f"{work}:{work / 'scripts'}", PYTHONDONTWRITEBYTECODE="1",
               COVERAGE_FILE=str(data_file), MUTATION_TIMES=str(times_file),
               GLOG_v=os.environ.get("GLOG_v", "3"))
    cmd = [sys.executable, "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider",
           "-p", "mutation_driver", "--cov-context=test", "--cov-report=",
           *[f"--cov={p}" for p in SCOPE_PACKAGES]]
    log(f"map: running {' '.join(targets)} under coverage"
        + (" (the whole default run: 15 min or more)" if list(targets) == list(TEST_DIRS) else ""))
    with open(out / "map.log", "w") as logf:
        rc = subprocess.run(cmd, cwd=work, env=env, stdout=logf, stderr=subprocess.STDOUT).returncode
    if rc not in (0, 1):
        raise SystemExit(f"map: pytest exited {rc}; see {out / 'map.log'}")
    times = json.loads(times_file.read_text())
    cov = coverage.CoverageData(basename=str(data_file))
    cov.read()
    lines: Dict[str, Dict[str, List[str]]] = {}
    for fname in cov.measured_files():
        rel = os.path.relpath(fname, work)
        if rel.startswith(".."):
            continue
        by_line = cov.contexts_by_lineno(fname)
        lines[rel] = {str(n): sorted({c.split("|")[0] for c in ctx if c}) for n, ctx in
                      by_line.items()}
    return times, lines


def _merge(old: dict, times: dict, lines: dict, replaced: Set[str]) -> None:
    """Put a partial map's tests into ``old``, dropping the tests of the ``replaced`` files."""
    gone = {t for t in old["tests"] if t.split("::")[0] in replaced}
    old["tests"] = {t: v for t, v in old["tests"].items() if t not in gone}
    old["tests"].update(times)
    for by_line in old["lines"].values():
        for n in by_line:
            by_line[n] = [t for t in by_line[n] if t not in gone]
    for rel, by_line in lines.items():
        for n, ts in by_line.items():
            here = old["lines"].setdefault(rel, {}).setdefault(n, [])
            old["lines"][rel][n] = sorted(set(here) | set(ts))


def _under(rel: str, targets: Sequence[str]) -> bool:
    return any(rel == t or rel.startswith(t.rstrip("/") + "/") for t in targets)


def ensure_map(out: Path, work: Path, rebuild: bool, reuse: bool,
               targets: Sequence[str] = TEST_DIRS) -> dict:
    """The current map of ``targets`` (test paths): built, updated for changed or added test
    files, or rebuilt when anything else changed."""
    path = out / "testmap.json"
    now = input_shas()
    old = None if rebuild or not path.exists() else json.loads(path.read_text())
    if old is not None:
        changed = {p for p in set(now) | set(old["shas"]) if now.get(p) != old["shas"].get(p)}
        others = sorted(p for p in changed if not is_test_file(p))
        added = [t for t in targets if not _under(t, old["targets"])]
        dropped = [t for t in old["targets"] if not _under(t, targets)]
        if others and not reuse:
            log(f"map: out of date ({len(others)} non-test files changed, e.g. {others[0]}); "
                "rebuilding (--reuse-map keeps it)")
        elif dropped:
            log(f"map: {', '.join(dropped)} no longer wanted; rebuilding")
        else:
            if others:
                log(f"map: {len(others)} non-test files changed; --reuse-map keeps the map")
            tests = sorted(p for p in changed if is_test_file(p) and p in now
                           and _under(p, old["targets"]))
            todo = tests + added
            if todo:
                log(f"map: measuring {', '.join(todo)}")
                times, lines = run_map(work, out, todo)
                _merge(old, times, lines, set(tests) | {p for p in changed if p not in now})
            old["shas"], old["targets"] = now, sorted(set(old["targets"]) | set(added))
            write_whole(path, json.dumps(old))
            return old
    times, lines = run_map(work, out, list(targets))
    new = {"shas": now, "tests": times, "lines": lines, "targets": list(targets)}
    write_whole(path, json.dumps(new))
    failing = [t for t, v in times.items() if not v["ok"]]
    log(f"map: {len(times)} tests, {len(failing)} failed or skipped (left out of selections)")
    return new


# ---------------------------------------------------------------------------------------------
# Test selection
# ---------------------------------------------------------------------------------------------

def _ranges(source: str) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]]]:
    """(statement line ranges, function line ranges); a compound statement's range is its
    header only."""
    stmts, funcs = [], []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            funcs.append((node.lineno, node.end_lineno))
        if isinstance(node, ast.stmt):
            end = node.end_lineno
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.AST):
                end = max(node.lineno, body[0].lineno - 1)
            stmts.append((node.lineno, end))
    return stmts, funcs


def _innermost(ranges, lo: int, hi: int) -> Optional[Tuple[int, int]]:
    inside = [r for r in ranges if r[0] <= lo and hi <= r[1]]
    return min(inside, key=lambda r: r[1] - r[0]) if inside else None


@dataclass
class Selector:
    testmap: dict
    rel: str
    source: str
    extra: List[str]
    confirm: str
    stmts: list = field(init=False)
    funcs: list = field(init=False)

    def __post_init__(self):
        self.stmts, self.funcs = _ranges(self.source)
        tests = self.testmap["tests"]
        self.ok = {t for t, v in tests.items() if v["ok"]}
        self.by_line = {int(n): set(ts) & self.ok
                        for n, ts in self.testmap["lines"].get(self.rel, {}).items()}
        extra = {t for t in self.ok if t.split("::")[0] in self.extra}
        self.module = set().union(*self.by_line.values(), extra) if self.by_line else extra

    def covering(self, lo: int, hi: int) -> Set[str]:
        return set().union(*(self.by_line.get(n, set()) for n in range(lo, hi + 1)))

    def order(self, tests: Set[str]) -> List[str]:
        times = self.testmap["tests"]
        return sorted(tests, key=lambda t: (times[t]["s"], t))

    def seconds(self, tests: Sequence[str]) -> float:
        return sum(self.testmap["tests"][t]["s"] for t in tests)

    def stages(self, first: int, last: int) -> List[Tuple[str, List[str]]]:
        """[(name, tests)]: the first selection, then the confirmation (new tests only)."""
        stmt = _innermost(self.stmts, first, last) or (first, last)
        func = _innermost(self.funcs, first, last)
        stmt_tests = self.covering(*stmt)
        func_tests = self.covering(*func) if func else set()
        if stmt_tests:
            first_stage = ("statement", stmt_tests)
        elif func_tests:
            first_stage = ("function", func_tests)
        else:
            first_stage = ("module", self.module)
        confirm = func_tests if (self.confirm == "function" and func_tests) else self.module
        out = [(first_stage[0], self.order(first_stage[1]))]
        rest = confirm - first_stage[1]
        if rest:
            out.append(("confirm-" + ("function" if confirm is func_tests else "module"),
                        self.order(rest)))
        return out


# ---------------------------------------------------------------------------------------------
# Running a selection in a forked child
# ---------------------------------------------------------------------------------------------

PRELOAD = ("numpy", "scipy", "PIL.Image", "yaml", "torch", "mindspore", "mindspore.nn",
           "mindspore.ops", "mindspore.dataset", "hypothesis", "pytest", "_pytest.python")


def preload() -> None:
    """Import the heavy third-party libraries once (never the product's modules)."""
    import importlib
    sys.dont_write_bytecode = True
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


def run_selection(tests: List[str], timeout: float, logfile: Path) -> Tuple[str, str]:
    """('passed' | 'failed' | 'timeout' | 'error', detail) of ``pytest -x tests`` in a child."""
    pid = os.fork()
    if pid == 0:  # child
        rc = 3
        try:
            os.setpgid(0, 0)
            fd = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            import pytest
            rc = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "--tb=line", "-rfE",
                                  *tests]))
        except BaseException:  # noqa: B902 (the child must always exit here)
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
    start = time.time()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() - start > timeout:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", f"over {timeout:.0f} s"
        time.sleep(0.2)
    rc = os.waitstatus_to_exitcode(status)
    text = logfile.read_text(errors="replace") if logfile.exists() else ""
    if rc == 0:
        return "passed", ""
    if rc == 4 and "not found:" not in text:  # a conftest's import failed on the mutant
        rc = 2
    if rc in (1, 2):  # test failed, or collection/import failed (the mutant breaks an import)
        hits = FAILED.findall(text)
        return "failed", hits[0] if hits else text.strip().splitlines()[-1][:300] if text else ""
    return "error", f"pytest exit {rc}: " + " | ".join(text.strip().splitlines()[-3:])[:400]


# ---------------------------------------------------------------------------------------------
# One module
# ---------------------------------------------------------------------------------------------

def operator_filter(config: dict):
    pats = [re.compile(p) for p in config["operators"]["include"]]
    return lambda name: any(p.search(name) for p in pats)


def mutated_lines(original: str, mutated: str, rel: str) -> Tuple[str, str, str]:
    """(diff text, first removed line stripped, first added line stripped)."""
    diff = list(difflib.unified_diff(original.splitlines(True), mutated.splitlines(True),
                                     f"a/{rel}", f"b/{rel}", n=0))
    minus = next((d[1:].strip() for d in diff if d.startswith("-") and not d.startswith("---")),
                 "")
    plus = next((d[1:].strip() for d in diff if d.startswith("+") and not d.startswith("+++")),
                "")
    return "".join(diff), minus, plus


def equivalents(config: dict, module: str) -> List[dict]:
    return [e for e in config.get("equivalent", []) if e["module"] == module]


def run_module(name: str, config: dict, testmap: dict, out: Path, work: Path,
               budget_s: float, fresh: bool, rerun_survivors: bool) -> None:
    from cosmic_ray.commands.init import init
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    spec = config["modules"][name]
    rel = spec["path"]
    target = work / rel
    pristine = (ROOT / rel).read_text()
    target.write_text(pristine)  # an earlier interrupted run may have left a mutant here
    db_path = out / f"{name}.sqlite"
    meta_path = out / f"{name}.meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    key = {"source": sha(ROOT / rel), "operators": config["operators"]["include"]}
    wanted = operator_filter(config)
    eq = equivalents(config, name)
    selector = Selector(testmap, rel, pristine, spec.get("extra_tests", []),
                        spec.get("confirm", "module"))
    budget = config["budget"]
    os.chdir(work)
    if fresh or meta.get("key") != key or not db_path.exists():
        if db_path.exists():
            db_path.unlink()
        with use_db(str(db_path), WorkDB.Mode.create) as db:
            init([Path(rel)], db, {})
            skipped = [w.job_id for w in db.pending_work_items
                       if not wanted(w.mutations[0].operator_name)]
            if skipped:
                db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        meta = {"key": key, "module": name, "path": rel, "seconds": 0.0}
        write_whole(meta_path, json.dumps(meta))
    if rerun_survivors:
        import sqlite3
        with sqlite3.connect(db_path) as con:  # drop the survivors' results: pending again
            again = con.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED' "
                                "AND worker_outcome = 'NORMAL'").rowcount
        log(f"[{name}] {again} survivors of the last run to run again")
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        pending = sorted(db.pending_work_items,
                         key=lambda w: (w.mutations[0].start_pos, w.mutations[0].operator_name,
                                        w.mutations[0].occurrence))
        total = sum(1 for w in db.work_items
                    if wanted(w.mutations[0].operator_name))
        done = total - len(pending)
        log(f"[{name}] {rel}: {total} mutants, {len(pending)} to run; module test set "
            f"{len(selector.module)} tests ({selector.seconds(list(selector.module)):.0f} s "
            f"recorded); budget {budget_s / 60:.0f} min")
        start = time.time()
        counts = {"killed": 0, "survived": 0, "timeout": 0, "error": 0}
        for item in pending:
            if time.time() - start > budget_s:
                log(f"[{name}] budget of {budget_s / 60:.0f} min spent: {len(pending) - sum(counts.values())} "
                    "mutants left (run again to continue)")
                break
            m = item.mutations[0]
            operator = get_operator(m.operator_name)(**(m.operator_args or {}))
            t0 = time.time()
            with use_mutation(Path(rel), operator, m.occurrence) as (orig, mutated):
                if mutated is None:
                    db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.NO_TEST))
                    continue
                diff, minus, plus = mutated_lines(orig, mutated, rel)
                verdict, detail, ran = "survived", "", []
                # a mutant listed as equivalent runs its first selection only (a kill there
                # shows the listing wrong; the report flags it), not the confirmation set
                listed = any(e["line"] == minus and e["mutant"] == plus
                             and e.get("lineno", m.start_pos[0]) == m.start_pos[0] for e in eq)
                stages = selector.stages(m.start_pos[0], m.end_pos[0])
                for stage, tests in stages[:1] if listed else stages:
                    if not tests:
                        continue
                    limit = (budget["timeout_factor"] * selector.seconds(tests)
                             + budget["timeout_floor_s"])
                    outcome, detail = run_selection(tests, limit, out / f"{name}.last.log")
                    ran.append({"stage": stage, "tests": len(tests), "outcome": outcome})
                    if outcome == "failed":
                        verdict = "killed"
                        break
                    if outcome in ("timeout", "error"):
                        verdict = outcome
                        break
            seconds = time.time() - t0
            info = {"verdict": verdict, "detail": detail, "stages": ran,
                    "line": m.start_pos[0], "operator": m.operator_name.split("/")[-1],
                    "original": minus, "mutant": plus, "seconds": round(seconds, 1)}
            test_outcome = TestOutcome.SURVIVED if verdict == "survived" else TestOutcome.KILLED
            db.set_result(item.job_id, WorkResult(
                worker_outcome=WorkerOutcome.NORMAL if verdict != "error"
                else WorkerOutcome.ABNORMAL, test_outcome=test_outcome,
                output=json.dumps(info), diff=diff))
            counts[verdict] += 1
            done += 1
            meta["seconds"] = round(meta.get("seconds", 0.0) + seconds, 1)
            write_whole(meta_path, json.dumps(meta))
            elapsed = time.time() - start
            left = len(pending) - sum(counts.values())
            log(f"[{name}] {done}/{total} line {m.start_pos[0]} {info['operator']}: {verdict}"
                f" ({seconds:.0f} s; {' '.join(f'{k} {v}' for k, v in counts.items() if v)};"
                f" ~{elapsed / max(1, sum(counts.values())) * left / 60:.0f} min left)")
    (work / rel).write_text(pristine)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def module_summary(name: str, config: dict, out: Path) -> Optional[dict]:
    from cosmic_ray.work_db import WorkDB, use_db

    db_path, meta_path = out / f"{name}.sqlite", out / f"{name}.meta.json"
    if not db_path.exists():
        return None
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    wanted = operator_filter(config)
    eq = equivalents(config, name)
    rows = {"killed": [], "survived": [], "equivalent": [], "timeout": [], "error": [],
            "pending": []}
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        results = dict(db.results)
        for item in db.work_items:
            m = item.mutations[0]
            if not wanted(m.operator_name):
                continue
            res = results.get(item.job_id)
            if res is None:
                rows["pending"].append({"line": m.start_pos[0],
                                        "operator": m.operator_name.split("/")[-1]})
                continue
            if res.worker_outcome.value == "no-test":
                continue
            info = json.loads(res.output)
            info["diff"] = res.diff
            match = next((e for e in eq if e["line"] == info["original"]
                          and e["mutant"] == info["mutant"]
                          and e.get("lineno", info["line"]) == info["line"]), None)
            if match and info["verdict"] == "survived":
                info["reason"] = match["reason"]
                rows["equivalent"].append(info)
            elif match:
                info["detail"] = "LISTED AS EQUIVALENT BUT KILLED: " + info.get("detail", "")
                rows[info["verdict"]].append(info)
            else:
                rows[info["verdict"]].append(info)
    for v in rows.values():
        v.sort(key=lambda r: (r["line"], r["operator"]))
    counted = sum(len(rows[k]) for k in ("killed", "survived", "equivalent", "timeout", "error"))
    non_eq = counted - len(rows["equivalent"])
    return {"module": name, "path": config["modules"][name]["path"],
            "mutants": counted + len(rows["pending"]), "run": counted,
            "killed": len(rows["killed"]), "survived": len(rows["survived"]),
            "equivalent": len(rows["equivalent"]), "timeout": len(rows["timeout"]),
            "error": len(rows["error"]), "pending": len(rows["pending"]),
            "score": round(100.0 * len(rows["killed"]) / non_eq, 1) if non_eq else None,
            "seconds": meta.get("seconds", 0.0), "rows": rows}


def write_report(config: dict, out: Path, names: Sequence[str]) -> None:
    summaries = [s for s in (module_summary(n, config, out) for n in names) if s]
    stamp = time.strftime("%Y-%m-%d %H:%M")
    write_whole(out / "report.json", json.dumps({"date": stamp, "modules": summaries},
                                                indent=1))
    lines = [f"# Mutation testing report ({stamp})", "",
             "Score = killed / (mutants run - equivalent). Tests: the default run (`ci` "
             "profile).", "",
             "| module | mutants | run | killed | survived | equivalent | timed out | error | "
             "left | score | time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        score = "-" if s["score"] is None else f"{s['score']:.1f}%"
        lines.append(f"| {s['module']} (`{s['path']}`) | {s['mutants']} | {s['run']} | "
                     f"{s['killed']} | {s['survived']} | {s['equivalent']} | {s['timeout']} | "
                     f"{s['error']} | {s['pending']} | {score} | {s['seconds'] / 60:.0f} min |")
    for s in summaries:
        for kind in ("survived", "timeout", "error", "equivalent"):
            if not s["rows"][kind]:
                continue
            lines += ["", f"## {s['module']}: {kind}", ""]
            for r in s["rows"][kind]:
                lines.append(f"- line {r['line']} {r['operator']}: `{r['original']}` -> "
                             f"`{r['mutant']}`" + (f" ({r['reason']})" if r.get("reason") else "")
                             + (f" [{r['detail']}]" if r.get("detail") else ""))
    write_whole(out / "report.md", "\n".join(lines) + "\n")
    log(f"report: {out / 'report.md'} and {out / 'report.json'}")
    for s in summaries:
        score = "-" if s["score"] is None else f"{s['score']:.1f}%"
        log(f"  {s['module']}: {s['mutants']} mutants, {s['killed']} killed, {s['survived']} "
            f"survived, {s['equivalent']} equivalent, {s['timeout']} timed out, "
            f"{s['pending']} left: score {score}")


# ---------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    config = load_config()
    names = list(config["modules"])
    parser = argparse.ArgumentParser(
        prog="scripts/mutation.sh",
        description="Mutation testing of the scoped modules against the default test run "
                    "(docs/parity.md, 'Mutation testing'). A slow run, not CI: one module at a "
                    "time, each within its budget.",
        epilog="modules: " + ", ".join(names))
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help="modules to run, in order (default: all, the table's order)")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "mutation"),
                        help="folder for the sessions, the test map and report.md/report.json "
                             "(default: outputs/mutation)")
    parser.add_argument("--budget-min", type=float, default=None,
                        help="minutes per module (default: budget.module_minutes of "
                             "scripts/mutation.toml); a module stopped by it reports what is "
                             "left, and a later run continues it")
    parser.add_argument("--fresh", action="store_true",
                        help="discard earlier results of these modules and start again")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="run the last run's survivors again (after adding tests)")
    parser.add_argument("--rebuild-map", action="store_true",
                        help="rebuild the test map even if it is current")
    parser.add_argument("--reuse-map", action="store_true",
                        help="keep the test map although files changed (helpers, strategies)")
    parser.add_argument("--report-only", action="store_true",
                        help="only write the report from the results so far")
    parser.add_argument("--map-only", action="store_true", help="only build the test map")
    parser.add_argument("--map-tests", nargs="+", metavar="PATH", default=list(TEST_DIRS),
                        help="map only these test paths (default: tests parity, the default "
                             "run); paths added later are measured and merged")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in config["modules"]]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(names)}")
    modules = args.modules or names
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        write_report(config, out, names)
        return 0
    work = out / "work"
    log(f"scratch copy of the repository in {work}")
    make_scratch(work)
    testmap = ensure_map(out, work, args.rebuild_map, args.reuse_map, args.map_tests)
    if args.map_only:
        return 0
    # subprocesses the tests start import the scratch copy (with the mutant), not ROOT
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(work)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    preload()
    budget_s = 60.0 * (args.budget_min or config["budget"]["module_minutes"])
    try:
        for name in modules:
            run_module(name, config, testmap, out, work, budget_s, args.fresh,
                       args.rerun_survivors)
            write_report(config, out, names)
    finally:
        os.chdir(ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
