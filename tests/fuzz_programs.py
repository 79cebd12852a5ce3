"""Random-program fuzzer: programs of what people write, checked against two
oracles that do not use srcad.

Each program is generated from one integer seed as a module of Python +
NumPy (tests/fuzz/grammar.py: today's statements, aliases, decorators,
builtins over lists, nested helpers, transforms called inside, module
state and notebook cells, calls drawn from the whole rule table, custom
rules, every input kind, statements srcad does not support, functions that
return nothing). Each of srcad's transforms must give what central
differences in float64 and JAX in float64 give, or raise srcad.SrcadError;
anything else is a failure (tests/fuzz/check.py).

Command line::

    python tests/fuzz_programs.py --count 3000 --seed 1                # prints failures
    python tests/fuzz_programs.py --count 100000 --seed 1 --state fuzz-state.json --jobs 2
    python tests/fuzz_programs.py --report fuzz-state.json --detail    # a state's tables
    python tests/fuzz_programs.py --one 1000017 --show                 # one program
    python tests/fuzz_programs.py --minimize 1000017                   # shrink a failure
    python tests/fuzz_programs.py --count 500 --seed 3 --focus builtins  # aim at features

A long run writes its progress, tallies and failures to the state file and
resumes from it: run the same command again after a stop (or with a larger
--count to go further). Each program runs in a worker process with a time
limit; a worker that crashes or hangs is replaced and its program recorded
as a failure (as invalid where it hung outside srcad, in the program's own C
code).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz.check import check_program  # noqa: E402
from fuzz.runner import format_outcome, program_seed, report, run  # noqa: E402

__all__ = ["check_program", "program_seed", "minimize", "main"]


def _drop(lines, i):
    """lines without line i and, for a compound statement, its block."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    if lines[i].rstrip().endswith(":"):
        while j < len(lines) and (len(lines[j]) - len(lines[j].lstrip()) > indent
                                  or not lines[j].strip()):
            j += 1
    out = lines[:i] + lines[j:]
    # a block left empty gets a pass
    if i > 0 and lines[i - 1].rstrip().endswith(":") and (
            i >= len(out) or len(out[i]) - len(out[i].lstrip()) < indent):
        out.insert(i, " " * indent + "pass")
    return out


def minimize(seed, focus=()):
    """Drop lines from a failing program while it fails the same way."""
    first = check_program(seed, focus=focus)
    if first.status != "failed":
        return first

    def signature(o):
        message = o.failure[1]
        return o.failure[0], message.split(":")[0] if message.startswith("crash") else message[:3]

    want = signature(first)
    lines = first.source.splitlines()
    best = first
    changed = True
    while changed:
        changed = False
        for i in range(len(lines) - 1, -1, -1):
            if i >= len(lines) or lines[i].startswith("def f("):
                continue
            candidate = _drop(lines, i)
            o = check_program(seed, source="\n".join(candidate) + "\n", focus=focus)
            if o.status == "failed" and signature(o) == want:
                lines, best, changed = candidate, o, True
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=300, help="programs in the run")
    p.add_argument("--seed", type=int, default=0, help="the run's base seed")
    p.add_argument("--state", help="state file: progress, tallies, failures; resumed from")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--timeout", type=int, default=60, help="seconds one program may take")
    p.add_argument("--show", action="store_true", help="print every program")
    p.add_argument("--one", type=int, help="check only this program seed")
    p.add_argument("--minimize", type=int, help="shrink this failing program seed")
    p.add_argument("--report", help="print the tables of a state file")
    p.add_argument("--detail", action="store_true", help="a row per primitive of the rule table")
    p.add_argument("--focus", default="", help="only these features, always (comma-separated: "
                   "alias,builtins,...; see tests/fuzz/grammar.py FEATURES)")
    opts = p.parse_args(argv)
    focus = tuple(opts.focus.split(",")) if opts.focus else ()
    if opts.report:
        with open(opts.report) as fh:
            print(report(json.load(fh), detail=opts.detail))
        return 0
    if opts.one is not None or opts.minimize is not None:
        o = minimize(opts.minimize, focus) if opts.minimize is not None else \
            check_program(opts.one, focus=focus)
        d = o.as_dict()
        print(format_outcome(d))
        print(f"{o.status}: checks {o.checks}; constructs {o.constructs}")
        for check, message in o.refusals if opts.show else []:
            print(f"refused ({check}): {message}")
        return 1 if o.status == "failed" else 0
    return run(opts.count, opts.seed, opts.state, jobs=opts.jobs, time_limit=opts.timeout,
               show=opts.show, focus=focus)


if __name__ == "__main__":
    sys.exit(main())
