"""Long runs: many programs in worker processes, resumable from a state file.

Program i of a run with base seed B has the seed ``program_seed(B, i)``. The
parent hands programs to ``jobs`` worker processes one at a time; a worker
that dies (a crash in C code) or runs past the time limit is replaced, and
its program recorded as a failure; or as invalid where it was stuck past the
limit outside srcad's code (the program's own call into C never ends). Every few seconds, and at the end, the
state is written (atomically) to the state file: which programs are done,
the tallies by status and by construct, the refusal messages, and every
failure with its program. Run the same command again to go on where it
stopped; raise ``--count`` to go further.
"""
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import Counter
from multiprocessing.connection import wait

STATUSES = ("ok", "refused", "failed", "skipped", "invalid", "error")


def program_seed(base, i):
    return base * 1_000_003 + i


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------

def new_state(seed, count, focus=()):
    return {"seed": seed, "focus": sorted(focus), "count": count, "contiguous": 0, "extra": [], "elapsed": 0.0,
            "tally": {}, "constructs": {}, "refusals": {}, "skips": {}, "oracles": {},
            "failures": [], "errors": []}


def load_state(path, seed, count, focus=()):
    if path and os.path.exists(path):
        with open(path) as fh:
            state = json.load(fh)
        if state["seed"] != seed or state.get("focus", []) != sorted(focus):
            raise SystemExit(f"{path} holds a run with --seed {state['seed']} and --focus "
                             f"{','.join(state.get('focus', []))}: not this one")
        state["count"] = max(state["count"], count)
        return state
    return new_state(seed, count, focus)


def save_state(path, state):
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh, indent=1)
    os.replace(tmp, path)


def pending(state):
    done = set(state["extra"])
    return [i for i in range(state["contiguous"], state["count"]) if i not in done]


def _message_key(message):
    """A refusal or failure message without its file, line and numbers."""
    text = message.split("\n")[0]
    text = re.sub(r"\S*fuzzprog\S*?:\d+: ", "", text)
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", text)[:160]


def record(state, index, outcome):
    """Add one program's outcome (Outcome.as_dict()) to the state."""
    status = outcome["status"]
    state["tally"][status] = state["tally"].get(status, 0) + 1
    for construct in outcome["constructs"]:
        row = state["constructs"].setdefault(construct, {})
        row[status] = row.get(status, 0) + 1
    for check, message in outcome["refusals"][:1]:
        key = _message_key(message.split(": ", 1)[-1])
        state["refusals"][key] = state["refusals"].get(key, 0) + 1
    for check, why in outcome["skips"]:
        state["skips"][why] = state["skips"].get(why, 0) + 1
    for oracle in outcome["oracles"]:
        state["oracles"][oracle] = state["oracles"].get(oracle, 0) + 1
    if status in ("failed", "error"):
        kept = {k: outcome[k] for k in ("seed", "status", "failure", "constructs", "source",
                                        "cells")}
        state["failures" if status == "failed" else "errors"].append(kept)
    extra = set(state["extra"])
    extra.add(index)
    while state["contiguous"] in extra:
        extra.remove(state["contiguous"])
        state["contiguous"] += 1
    state["extra"] = sorted(extra)


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

def _worker(conn, in_srcad, hvp_every, time_limit, focus):
    from . import check
    from .check import check_program
    check.IN_SRCAD = in_srcad
    while True:
        task = conn.recv()
        if task is None:
            return
        index, seed = task
        conn.send((index, check_program(seed, hvp_every=hvp_every, time_limit=time_limit,
                                        focus=focus).as_dict()))


class Pool:
    """Worker processes, each given one program at a time, and replaced after
    ``RECYCLE`` programs (memory that srcad's caches and JAX's compiled code hold)."""

    RECYCLE = 100

    def __init__(self, jobs, hvp_every, time_limit, focus=()):
        self.context = multiprocessing.get_context("spawn")
        self.args = (hvp_every, time_limit, tuple(focus))
        self.focus = tuple(focus)
        self.limit = time_limit + 60       # the worker's own alarm comes first
        self.workers = [self._start() for _ in range(jobs)]

    def _start(self):
        parent, child = self.context.Pipe()
        in_srcad = self.context.Value("i", 0, lock=False)
        process = self.context.Process(target=_worker, args=(child, in_srcad) + self.args,
                                       daemon=True)
        process.start()
        child.close()
        return {"process": process, "conn": parent, "task": None, "since": 0.0, "done": 0,
                "in_srcad": in_srcad}

    def run(self, tasks):
        """Yield (index, outcome) for each (index, seed) task, in the order they end."""
        tasks = list(tasks)[::-1]
        while tasks or any(w["task"] for w in self.workers):
            for w in self.workers:
                if w["task"] is None and tasks:
                    w["task"], w["since"] = tasks.pop(), time.time()
                    w["conn"].send(w["task"])
            busy = [w for w in self.workers if w["task"]]
            ready = wait([w["conn"] for w in busy] + [w["process"].sentinel for w in busy],
                         timeout=5)
            for i, w in enumerate(self.workers):
                if w["task"] is None:
                    continue
                if w["conn"] in ready:
                    try:
                        result = w["conn"].recv()
                    except (EOFError, ConnectionResetError):
                        result = None
                    if result is not None:
                        w["task"] = None
                        w["done"] += 1
                        if w["done"] >= self.RECYCLE:
                            self._stop(w)
                            self.workers[i] = self._start()
                        yield result
                        continue
                died = not w["process"].is_alive()
                late = time.time() - w["since"] > self.limit
                if died or late:
                    index, seed = w["task"]
                    why = (f"the worker process died (exit code {w['process'].exitcode})"
                           if died else f"no result after {self.limit} s: the worker was ended")
                    # stuck in C code outside srcad: the program itself does not end
                    status = "failed" if died or w["in_srcad"].value else "invalid"
                    w["process"].kill()
                    self.workers[i] = self._start()
                    yield index, _lost(seed, why, self.focus, status)

    def close(self):
        for w in self.workers:
            self._stop(w)

    @staticmethod
    def _stop(worker):
        try:
            worker["conn"].send(None)
        except (BrokenPipeError, OSError):
            pass
        worker["process"].join(timeout=5)
        if worker["process"].is_alive():
            worker["process"].kill()


def _lost(seed, why, focus, status="failed"):
    from .grammar import generate
    program = generate(seed, focus)
    return {"seed": seed, "status": status, "checks": [], "refusals": [], "skips": [],
            "failure": ("process" if status == "failed" else "invalid", why), "constructs": sorted(program.constructs),
            "oracles": [], "source": program.source, "cells": program.cells}


# ---------------------------------------------------------------------------
# A run and its report
# ---------------------------------------------------------------------------

def run(count, seed, state_path=None, jobs=1, time_limit=60, hvp_every=3, show=False,
        focus=(), out=sys.stdout):
    state = load_state(state_path, seed, count, focus)
    todo = pending(state)
    print(f"programs {state['contiguous'] + len(state['extra'])} of {state['count']} done; "
          f"{len(todo)} to run with {jobs} worker(s)", file=out, flush=True)
    pool = Pool(jobs, hvp_every, time_limit, focus)
    signal.signal(signal.SIGTERM, _interrupt)       # `kill` stops a run as Ctrl-C does
    start, saved, reported = time.time(), time.time(), time.time()
    done_before = state["elapsed"]
    try:
        for index, outcome in pool.run((i, program_seed(seed, i)) for i in todo):
            record(state, index, outcome)
            if outcome["status"] in ("failed", "error") or show:
                print(format_outcome(outcome), file=out, flush=True)
            now = time.time()
            state["elapsed"] = done_before + now - start
            if now - saved > 10:
                save_state(state_path, state)
                saved = now
            if now - reported > 60:
                print(progress(state), file=out, flush=True)
                reported = now
    except KeyboardInterrupt:
        print("interrupted: the state is saved; run the command again to go on", file=out)
    finally:
        pool.close()
        save_state(state_path, state)
    print(report(state), file=out)
    return 1 if state["failures"] or state["errors"] else 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def progress(state):
    done = sum(state["tally"].values())
    return (f"[{time.strftime('%H:%M:%S')}] {done} programs in {state['elapsed']:.0f} s: " +
            "  ".join(f"{s}: {state['tally'].get(s, 0)}" for s in STATUSES))


def format_outcome(o):
    head = f"=== seed {o['seed']}: {o['status']}"
    text = [head, o["source"].rstrip()]
    for cell in o.get("cells") or []:
        text += ["--- then the cell:", cell.rstrip()]
    if o.get("failure"):
        text.append(f"--- {o['failure'][0]}: {o['failure'][1]}")
    return "\n".join(text) + "\n"


def construct_table(state, detail=False):
    """Rows of programs, ok, refused, failed, not judged and refusal rate per construct
    (a row per primitive of the rule table with ``detail``)."""
    rows = {construct: Counter(counts) for construct, counts in state["constructs"].items()
            if detail or not construct.startswith("rule:")}
    lines = [f"{'construct':48s} {'programs':>8s} {'ok':>6s} {'refused':>7s} {'failed':>6s} "
             f"{'other':>6s} {'refusal rate':>12s}"]
    for construct in sorted(rows):
        c = rows[construct]
        judged = c["ok"] + c["refused"] + c["failed"]
        other = sum(c.values()) - judged
        rate = f"{100 * c['refused'] / judged:.0f}%" if judged else "-"
        lines.append(f"{construct:48s} {sum(c.values()):8d} {c['ok']:6d} {c['refused']:7d} "
                     f"{c['failed']:6d} {other:6d} {rate:>12s}")
    return "\n".join(lines)


def failure_classes(state):
    """Failures grouped by check and message shape: {key: [seeds]}."""
    classes = {}
    for f in state["failures"] + state["errors"]:
        check, message = f["failure"]
        if message.startswith("crash"):
            key = f"{check}: {_message_key(message)}"
        else:
            key = f"{check}: {message.split(' ')[0]} ({', '.join(c for c in f['constructs'] if not c.startswith('statement:'))[:150]})"
        classes.setdefault(key, []).append(f["seed"])
    return classes


def report(state, detail=False):
    done = sum(state["tally"].values())
    lines = [progress(state), "", "per construct:", construct_table(state, detail), ""]
    lines.append("oracles used by passing checks: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(state["oracles"].items())))
    if state["skips"]:
        lines.append("checks the oracles could not judge: " + ", ".join(
            f"{k} ({v})" for k, v in sorted(state["skips"].items(), key=lambda kv: -kv[1])))
    lines.append("refusals (first of each program, by message):")
    for key, c in sorted(state["refusals"].items(), key=lambda kv: -kv[1])[:20]:
        lines.append(f"  {c:6d}  {key}")
    if state["failures"] or state["errors"]:
        lines.append(f"failures ({len(state['failures'])}) and fuzzer errors "
                     f"({len(state['errors'])}), by class:")
        for key, seeds in sorted(failure_classes(state).items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {len(seeds):5d}  {key[:200]}  seeds {' '.join(map(str, seeds[:5]))}")
    lines.append(f"{done} programs: {state['tally'].get('failed', 0)} failed")
    return "\n".join(lines)
