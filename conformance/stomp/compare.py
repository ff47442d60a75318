#!/usr/bin/env python3
"""Diff one run's normalised results against expected.json (architecture.md §2.17).

expected.json maps every test id to the outcome the reference ActiveMQ run produced:
``"passed"`` or ``"skipped: <one-line reason>"``. Against ferromq the expectation is the same,
except that tests marked ``reference_skip`` (ActiveMQ defects ferromq does not copy) must pass.

    compare.py EXPECTED RESULTS [--subset] [--update]

RESULTS is what conftest.py's ``--results-json`` wrote. ``--subset`` compares only the tests that
ran (for runs narrowed with -k). ``--update`` rewrites EXPECTED from a clean reference run.
Exit status: 0 no difference, 1 differences, 2 usage or input errors.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys


def load(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def render(outcomes: dict[str, str]) -> list[str]:
    return [f"{name}: {outcome}\n" for name, outcome in sorted(outcomes.items())]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("expected")
    ap.add_argument("results")
    ap.add_argument("--subset", action="store_true", help="compare only the tests that ran")
    ap.add_argument("--update", action="store_true", help="rewrite EXPECTED from this (reference) run")
    args = ap.parse_args()

    try:
        results = load(args.results)
    except (OSError, ValueError) as e:
        print(f"compare.py: cannot read results {args.results}: {e}", file=sys.stderr)
        return 2
    target = results["target"]
    actual: dict[str, str] = results["outcomes"]
    reference_skip = set(results.get("reference_skip", []))

    if args.update:
        if target != "activemq":
            print("compare.py: --update records the reference run; run with --reference", file=sys.stderr)
            return 2
        bad = {k: v for k, v in actual.items() if not (v == "passed" or v.startswith("skipped: "))}
        if bad:
            print("compare.py: refusing to record failing tests; fix them or mark them "
                  "@pytest.mark.reference_skip(\"reason\"):", file=sys.stderr)
            for k, v in sorted(bad.items()):
                print(f"  {k}: {v}", file=sys.stderr)
            return 1
        if args.subset:
            print("compare.py: --update needs a full run (no -k / test selection)", file=sys.stderr)
            return 2
        with open(args.expected, "w", encoding="utf-8") as f:
            json.dump(dict(sorted(actual.items())), f, indent=2)
            f.write("\n")
        print(f"compare.py: wrote {len(actual)} results to {args.expected}")
        return 0

    try:
        expected: dict[str, str] = load(args.expected)
    except FileNotFoundError:
        print(f"compare.py: {args.expected} missing; record it with run.sh --reference --update", file=sys.stderr)
        return 2

    if target != "activemq":
        # ActiveMQ's defects are skipped on the reference only; ferromq must pass them.
        expected = {k: ("passed" if k in reference_skip else v) for k, v in expected.items()}
    if args.subset:
        expected = {k: v for k, v in expected.items() if k in actual}

    if expected == actual:
        counts: dict[str, int] = {}
        for v in actual.values():
            key = "skipped" if v.startswith("skipped") else v
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        print(f"conformance/stomp ({target}): matches expected.json ({summary})")
        return 0

    print(f"conformance/stomp ({target}): results differ from expected.json "
          f"(- expected, + this run):")
    sys.stdout.writelines(
        difflib.unified_diff(render(expected), render(actual), "expected.json", f"{target} run", n=0)
    )
    missing = sorted(set(expected) - set(actual))
    new = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    print(f"{len(changed)} changed, {len(missing)} missing from this run, {len(new)} not in expected.json")
    if new:
        print("New tests: record them on purpose with `conformance/stomp/run.sh --reference --update`.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
