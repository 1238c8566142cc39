#!/usr/bin/env bash
# Which branches of the training recipe, step and preprocessing code do fixed examples reach?
# Runs the default suite (or the pytest args given) under the 'fixed-only' Hypothesis profile:
# every property runs its @example cases and no draws; unit tests run as always. Then lists each
# branch of SCOPE that nothing reached, marks those docs/parity.md lists as exceptions (section
# "Branches left to draws"), and exits 1 if any other is left: such a branch is reached only by
# Hypothesis draws, or by nothing.
# Usage: bash scripts/coverage_fixed_examples.sh [pytest args]   (default: tests parity)
# Needs nothing but the set-up of scripts/run_tests.sh; about as long as the default run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export COVERAGE_FILE="$root/.coverage-fixed"
rm -f "$COVERAGE_FILE" "$COVERAGE_FILE".*
if [ $# -eq 0 ]; then set -- tests parity; fi
status=0
ACMIX_PARITY_PROFILE=fixed-only bash scripts/run_tests.sh "$@" -q -p no:cacheprovider \
  --cov-report= || status=$?
echo "pytest exit status $status (fixed-only profile)"
listing=0
.venv/bin/python - "$COVERAGE_FILE" <<'EOF' || listing=$?
import json, os, re, sys, tempfile

import coverage

SCOPE = ["schedule", "step", "optim", "mixup", "transforms", "rand_augment", "random_erasing",
         "data", "ema", "pretrained", "config"]
files = [os.path.join("ms_acmix", "train", f"{name}.py") for name in SCOPE]

# The exceptions table of docs/parity.md: | `file` | `source of the branch line` | ... |
doc = open(os.path.join("docs", "parity.md"), encoding="utf-8").read()
section = doc.split("### Branches left to draws", 1)[-1].split("\n## ", 1)[0]
listed = set()
for row in section.splitlines():
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    if len(cells) >= 3 and cells[0].startswith("`ms_acmix/"):
        listed.add((cells[0].strip("`"), cells[1].strip("`")))

cov = coverage.Coverage(data_file=sys.argv[1])
cov.load()
with tempfile.NamedTemporaryFile(suffix=".json") as out:
    cov.json_report(morfs=[os.path.abspath(f) for f in files], outfile=out.name)
    report = json.load(open(out.name))["files"]
total = covered = 0
left, excepted = [], []
print(f"\n{'file':<34} {'branches':>8} {'covered':>8} {'missing':>8}")
for path in files:
    entry = report.get(path) or report.get(os.path.abspath(path))
    summary = entry["summary"]
    total += summary["num_branches"]
    covered += summary["covered_branches"]
    print(f"{path:<34} {summary['num_branches']:>8} {summary['covered_branches']:>8} "
          f"{summary['missing_branches']:>8}")
    source = open(path, encoding="utf-8").read().splitlines()
    for start, end in entry["missing_branches"]:
        text = source[start - 1].strip()
        target = "exit" if end < 0 else f"line {end}"
        row = f"{path}:{start} -> {target}: {text}"
        (excepted if (path, text) in listed else left).append(row)
print(f"{'in scope':<34} {total:>8} {covered:>8} {total - covered:>8}"
      f"   ({100.0 * covered / max(total, 1):.1f}% of branches)")
print(f"\nuncovered, listed as exceptions in docs/parity.md: {len(excepted)}")
for row in excepted:
    print("  " + row)
print(f"uncovered and not listed (left to draws or to nothing): {len(left)}")
for row in left:
    print("  " + row)
sys.exit(1 if left else 0)
EOF
exit $(( status != 0 || listing != 0 ))
