"""Checking one generated program: srcad against two oracles that do not use it.

For a program (grammar.py) and arguments drawn away from its kinks
(twins.Gaps), each of srcad's transforms must give a correct result or raise
``srcad.SrcadError``; anything else (a wrong number, a result of the wrong
structure, another exception, a changed argument) is a failure:

1. ``grad`` and ``value_and_grad``: the gradient of a scalar result; for a
   result that is not a scalar (an array, a tuple, None) a refusal;
2. ``jvp`` and ``vjp``, with the dot-product identity <J v, u> = <v, J^T u>
   between them;
3. for every third program, ``hvp``;
4. where the program has later cells (a helper redefined, a global rebound),
   the checks again after running them, with the transform objects made
   before (the notebook case) and with new ones.

The oracles (``Oracles``) are central differences in float64 of the
reference program (twins.reference), trusted only where a second step size
agrees, and JAX in float64 (twins.jax_twin) where the program maps onto
jax.numpy and gives the same value. Where both answer they must agree with
each other, or the check is skipped; srcad must agree with every answer.
Arguments of int or float32 kinds are differentiated by the oracles in
float64 at the same values.
"""
import contextlib
import copy
import importlib.util
import os
import signal
import sys
import tempfile
import traceback
import warnings

import numpy as np

import srcad

from oracle import inner, numerical_grad, numerical_jvp, numerical_vjp, tree_map

from . import inputs, twins
from .grammar import DIFF_PARAMS, PARAMS, generate

FD_STEP = 1e-4          # the differences' step; RELIABLE_STEP must give the same answer
RELIABLE_STEP = 1e-3
NESTED_STEPS = (1e-3, 3e-3)     # for programs whose transforms inside are differences too


class Outcome:
    def __init__(self, program):
        self.seed = program.seed
        self.source = program.source
        self.cells = program.cells
        self.constructs = sorted(program.constructs)
        self.status = "ok"      # ok | refused | failed | skipped | invalid | error (the fuzzer's)
        self.checks = []        # names of the checks run and passed
        self.refusals = []      # (check, message)
        self.skips = []         # (check, why the oracles could not judge it)
        self.failure = None     # (check, message)
        self.oracles = set()    # "differences", "jax"

    def __repr__(self):
        return f"Outcome(seed={self.seed}, status={self.status})"

    def as_dict(self):
        return {"seed": self.seed, "status": self.status, "checks": self.checks,
                "refusals": self.refusals, "skips": self.skips, "failure": self.failure,
                "constructs": self.constructs, "oracles": sorted(self.oracles),
                "source": self.source, "cells": self.cells}


class CheckFailure(Exception):
    pass


class Skip(Exception):
    """The oracles cannot judge this check."""


class Invalid(Exception):
    """The program is no test: Python rejects it, or it fails on its own."""

    status = "invalid"


class NoInputs(Invalid):
    """No inputs keep away from the program's kinks, or the input kinds change its value."""

    status = "skipped"


class _Timeout(Exception):
    pass


# Set by the runner's worker: a flag shared with the parent process, 1 while srcad's
# code runs. A worker stuck past its time limit in C code (where the alarm cannot
# reach) is srcad's failure only where the flag is set; else the program's own.
IN_SRCAD = None


@contextlib.contextmanager
def srcad_running():
    if IN_SRCAD is not None:
        IN_SRCAD.value = 1
    try:
        yield
    finally:
        if IN_SRCAD is not None:
            IN_SRCAD.value = 0


def _alarm(signum, frame):
    raise _Timeout("program took too long")


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

_TMPDIR = None
_LOADS = [0]


def _write(name, text):
    global _TMPDIR
    if _TMPDIR is None:
        _TMPDIR = tempfile.mkdtemp(prefix="srcad_fuzz_")
    path = os.path.join(_TMPDIR, name + ".py")
    with open(path, "w") as fh:
        fh.write(text)
    return path


def load_program(seed, source):
    """The program as a module read from a file (srcad reads source with inspect)."""
    _LOADS[0] += 1
    name = f"fuzzprog_{seed}_{_LOADS[0]}"
    spec = importlib.util.spec_from_file_location(name, _write(name, source))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_cell(module, text):
    """Run a later cell in the module, from a file of its own, as a notebook does."""
    _LOADS[0] += 1
    path = _write(f"{module.__name__}_cell{_LOADS[0]}", text)
    exec(compile(text, path, "exec"), module.__dict__)   # noqa: S102 - our program


def seeded(fn, seed=0):
    """fn with NumPy's global random state reset before each call, and the module-level
    arrays and lists it writes into put back after it: every call starts from the
    program's own state, as the first did."""
    def call(*args):
        np.random.seed(seed)
        names = getattr(fn, "__globals__", {})
        saved = [(v, copy.deepcopy(v)) for v in names.values()
                 if isinstance(v, (np.ndarray, list))]
        try:
            return fn(*args)
        finally:
            for value, before in saved:
                if isinstance(value, np.ndarray):
                    if value.flags.writeable:
                        value[...] = before
                else:
                    value[:] = before
    return call


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------

def _leaf(v):
    return np.asarray(np.ma.getdata(v) if isinstance(v, np.ma.MaskedArray) else v)


def allclose(got, expected, rtol, atol):
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False
        return all(allclose(g, e, rtol, atol) for g, e in zip(got, expected))
    if isinstance(got, (tuple, list)) or got is None:
        return False
    try:
        g = _leaf(got).astype(complex if np.iscomplexobj(got) else float)
        e = _leaf(expected).astype(float)
    except (TypeError, ValueError):
        return False
    return g.shape == e.shape and bool(np.allclose(g, e, rtol=rtol, atol=atol))


def scale(x):
    if isinstance(x, (tuple, list)):
        return max([scale(v) for v in x] + [1.0])
    a = np.abs(_leaf(x).astype(float))
    return max(1.0, float(np.max(a))) if a.size else 1.0


def finite(x):
    if isinstance(x, (tuple, list)):
        return all(finite(v) for v in x)
    try:
        return bool(np.all(np.isfinite(_leaf(x).astype(float))))
    except (TypeError, ValueError):
        return False


def like(grad, arg):
    """Whether a gradient has the structure its argument promises."""
    if isinstance(arg, np.ndarray):
        return isinstance(grad, np.ndarray) and grad.shape == arg.shape
    if isinstance(arg, (list, tuple)):
        return type(grad) is type(arg) and len(grad) == len(arg) and all(
            like(g, a) for g, a in zip(grad, arg))
    if isinstance(arg, (int, float)) and not isinstance(arg, np.generic):
        return isinstance(grad, float)
    return not isinstance(grad, (tuple, list)) and np.ndim(grad) == 0


def same_args(args, before):
    for a, b in zip(args, before):
        if isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and a.shape == b.shape and
                    np.array_equal(np.asarray(a), np.asarray(b)) and
                    np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b))):
                return False
        elif isinstance(b, (list, tuple)):
            if type(a) is not type(b) or not same_args(a, b) or len(a) != len(b):
                return False
        elif a != b:
            return False
    return True


class Tolerance:
    def __init__(self, program):
        low = inputs.low_precision(program)
        self.rtol = 2e-3 if low else 1e-4 if program.nested else 1e-5
        self.value_rtol = 1e-4 if low else 1e-6 if program.nested else 1e-9

    def close(self, got, expected, rtol=None):
        rtol = rtol or self.rtol
        return allclose(got, expected, rtol, rtol * scale(expected))


def _like_values(value, rng):
    """A random structure like value (a direction or a cotangent)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_like_values(v, rng) for v in value)
    if isinstance(value, np.ndarray) or np.ndim(value):
        return rng.uniform(-1.0, 1.0, np.shape(value))
    return float(rng.uniform(-1.0, 1.0))


# ---------------------------------------------------------------------------
# The oracles
# ---------------------------------------------------------------------------

class Oracles:
    """What the derivatives of the program are, from the reference program's
    differences and from the JAX twin."""

    def __init__(self, program, reference, jax_ns, args64, positions, multi, tol, rng):
        self.f = seeded(reference["f"])
        self.jax_f = jax_ns["f"] if jax_ns else None
        self.args = args64
        self.positions, self.multi = positions, multi
        self.tol = tol
        self.steps = NESTED_STEPS if program.nested else (FD_STEP, RELIABLE_STEP)
        self.direction = [_like_values(args64[p], rng) for p in positions]
        self.wrt = positions if multi else positions[0]
        self.used = set()
        self.disagreements = 0

    def _jax(self, compute):
        if self.jax_f is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # a copy: the twin's `x /= c` writes into a NumPy argument as f does
                return tree_map(lambda v: np.asarray(v),
                                compute(twins.JaxTransforms(), copy.deepcopy(self.args)))
        except Exception:       # noqa: BLE001 - the twin does not run under this transform
            return None

    def jax_value_matches(self, value_ref):
        if self.jax_f is None:
            return
        try:
            value = tree_map(np.asarray, self.jax_f(*copy.deepcopy(self.args)))
            ok = self.tol.close(value, value_ref, rtol=self.tol.value_rtol * 10 + 1e-9)
        except Exception:       # noqa: BLE001 - the program does not map onto jax.numpy
            ok = False
        if not ok:
            self.jax_f = None

    def nonfinite_on_the_way(self):
        """Whether the reference program computes a nan or an inf on the way (a
        derivative then takes it up, as 0 * inf, in srcad as in JAX and PyTorch)."""
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                self.f(*copy.deepcopy(self.args))
        except FloatingPointError:
            return True
        except Exception:       # noqa: BLE001 - it ran before; a failure here is no answer
            return False
        return False

    def _directional(self, step):
        return numerical_jvp(self.f, self.args, self.positions, self.direction, step=step)

    def _answers(self, fd, check_fd, jax_value):
        """[(oracle, value)]: the differences where check_fd holds, JAX where it ran."""
        out = []
        if fd is not None and check_fd():
            out.append(("differences", fd))
        if jax_value is not None and finite(jax_value):     # not at a pole JAX cannot take
            out.append(("jax", jax_value))
        if len(out) == 2 and not self.tol.close(out[0][1], out[1][1]):
            self.disagreements += 1
            raise Skip("the differences and JAX disagree")
        if not out:
            raise Skip("no oracle (the differences do not settle; no JAX twin)")
        self.used.update(name for name, _ in out)
        return out

    def grad(self):
        h, h2 = self.steps
        fd = numerical_grad(self.f, self.args, self.wrt, step=h)
        grads = fd if self.multi else (fd,)

        def settled():   # a larger step along a direction says the same
            along = sum(inner(v, g) for v, g in zip(self.direction, grads))
            return np.isclose(along, float(self._directional(h2)), rtol=self.tol.rtol,
                              atol=self.tol.rtol * scale(grads))
        jax_grad = self._jax(lambda t, args: t.grad(self.jax_f, wrt=self.wrt)(*args))
        return self._answers(fd, settled, jax_grad)

    def jvp(self, tangents):
        h, h2 = self.steps
        fd = numerical_jvp(self.f, self.args, self.positions, tangents, step=h)

        def settled():
            wider = numerical_jvp(self.f, self.args, self.positions, tangents, step=h2)
            return self.tol.close(fd, wider)
        jax_jvp = self._jax(lambda t, args: t.jvp(self.jax_f, wrt=self.wrt)(*args, *tangents)[1])
        return self._answers(fd, settled, jax_jvp)

    def vjp(self, cotangent):
        h, h2 = self.steps
        fd = numerical_vjp(self.f, self.args, cotangent, self.positions, step=h)

        def settled():
            along = sum(inner(v, g) for v, g in zip(self.direction, fd))
            return np.isclose(along, inner(cotangent, self._directional(h2)),
                              rtol=self.tol.rtol, atol=self.tol.rtol * scale(fd))
        jax_vjp = self._jax(lambda t, args: t.vjp(self.jax_f, wrt=self.positions)(*args)[1](
            cotangent))
        return self._answers(fd, settled, jax_vjp)

    def hvp(self, vectors):
        outer = twins.FiniteDifferences()
        gradient = outer.grad(self.f, wrt=self.wrt)
        fd = numerical_jvp(gradient, self.args, self.positions, vectors, step=NESTED_STEPS[0])

        def settled():
            wider = numerical_jvp(gradient, self.args, self.positions, vectors,
                                  step=NESTED_STEPS[1])
            return self.tol.close(fd, wider)
        jax_hvp = self._jax(lambda t, args: t.hvp(self.jax_f, wrt=self.wrt)(*args, *vectors))
        return self._answers(fd, settled, jax_hvp)


# ---------------------------------------------------------------------------
# Checking one program
# ---------------------------------------------------------------------------

def check_program(seed, hvp_every=3, time_limit=30, source=None, focus=()):
    program = generate(seed, focus)
    if source is not None:
        program.source = source
    out = Outcome(program)
    rng = np.random.default_rng(seed)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(time_limit)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            _check(program, out, rng, hvp_every)
    except _Timeout:
        out.status = "failed"
        out.failure = ("timeout", f"no result after {time_limit} s")
    except Invalid as exc:
        out.status = exc.status
        out.failure = (exc.status, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug of the fuzzer itself: reported apart
        out.status = "error"
        out.failure = ("fuzzer", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        for name in [m for m in sys.modules if m.startswith(f"fuzzprog_{seed}_")]:
            del sys.modules[name]
    return out


def _draw(program, reference, gaps, rng):
    """Arguments whose run stays away from every kink and branch boundary."""
    for _ in range(8):
        args = inputs.given(program, inputs.draw(program, rng), rng)
        if "stack" in program.source and any(isinstance(a, np.matrix) for a in args):
            # NumPy itself: np.stack(m, axis=-1) and np.dstack(m) of an np.matrix read
            # and write past its memory, and the process dies later, anywhere
            raise Invalid("run: stacking an np.matrix corrupts NumPy's memory")
        # its own memory: a call that updates an argument in place (as f may) must not
        # change what the oracles differentiate
        args64 = copy.deepcopy(inputs.float64(args))
        gaps.values.clear()
        gaps.active = True
        try:
            value = seeded(reference["f"])(*copy.deepcopy(args64))
        except Exception as exc:  # noqa: BLE001 - the program fails on its own
            raise Invalid(f"run: {type(exc).__name__}: {exc}") from exc
        finally:
            gaps.active = False
        if value is not None and (not finite(value) or scale(value) > 1e6):
            continue
        if not gaps.values or min(gaps.values) > 1e-2:
            return args, args64
    raise NoInputs("no inputs away from the program's kinks")


def _check(program, out, rng, hvp_every):
    try:
        reference, gaps = twins.reference(program.source)
    except Exception as exc:  # noqa: BLE001 - the generator wrote something Python rejects
        raise Invalid(f"generate: {type(exc).__name__}: {exc}") from exc
    try:
        with srcad_running():
            module = load_program(program.seed, program.source)
    except srcad.SrcadError as exc:
        out.refusals.append(("load", f"{type(exc).__name__}: {exc}".splitlines()[0]))
        out.status = "refused"
        return
    jax_ns = twins.jax_twin(program.source)
    args, args64 = _draw(program, reference, gaps, rng)
    tol = Tolerance(program)

    pick = np.random.default_rng(program.seed + 7)
    names = list(pick.choice(DIFF_PARAMS, pick.integers(1, 4), replace=False))
    positions = tuple(PARAMS.index(p) for p in names)
    items = tuple(name if program.named and pick.random() < 0.5 else PARAMS.index(name)
                  for name in names)
    wrt = items if (len(items) > 1 or pick.random() < 0.3) else items[0]
    multi = isinstance(wrt, tuple)
    made = {}          # transform objects of the first round, called again after the cells
    try:
        for round_, cell in enumerate([None] + list(program.cells)):
            if cell is not None:
                with srcad_running():
                    run_cell(module, cell)
                twins.run_cell(reference, cell, "reference")
                if jax_ns is not None:
                    try:
                        twins.run_cell(jax_ns, cell, "jax")
                    except Exception:       # noqa: BLE001 - the cell has no JAX twin
                        jax_ns = None
            suffix = "" if cell is None else " after the cell"
            _round(program, out, module, reference, jax_ns, args, args64, positions, wrt, multi,
                   tol, rng, made, suffix, hvp_every and program.seed % hvp_every == 0)
    except CheckFailure as exc:
        out.status = "failed"
        out.failure = (exc.args[0], exc.args[1])
        return
    if out.refusals and not out.checks:
        out.status = "refused"
    elif not out.checks and not out.refusals:
        out.status = "skipped"


def _jax_value_is(jax_ns, args64, value, tol):
    """Whether the JAX twin's f (exact derivatives inside, where the reference takes
    differences) returns value."""
    if not jax_ns:
        return False
    try:
        exact = tree_map(np.asarray, jax_ns["f"](*copy.deepcopy(args64)))
        return tol.close(value, exact, rtol=tol.value_rtol)
    except Exception:       # noqa: BLE001 - the program does not map onto jax.numpy
        return False


def _reference_unsure(reference, args64, value, value_ref):
    """Whether the reference's value moves, when its differences inside f take half the
    steps, by a tenth of its distance from srcad's value or more: then it is no oracle
    for that value (derivatives amplified by a loop, or read by a branch)."""
    shim, saved = reference.get("srcad"), (twins.INNER_STEP, twins.NESTED_STEP)
    if not isinstance(shim, twins.FiniteDifferences):
        return False
    try:
        shim.step, twins.NESTED_STEP = saved[0] / 2, saved[1] / 2
        halved = seeded(reference["f"])(*copy.deepcopy(args64))
        moved = np.max(np.abs(np.asarray(halved, float) - np.asarray(value_ref, float)))
        apart = np.max(np.abs(np.asarray(value, float) - np.asarray(value_ref, float)))
        return bool(moved >= 0.1 * apart)
    except Exception:       # noqa: BLE001 - a value of another structure: no judgement
        return False
    finally:
        shim.step, twins.NESTED_STEP = saved


def _round(program, out, module, reference, jax_ns, args, args64, positions, wrt, multi, tol,
           rng, made, suffix, with_hvp):
    f = seeded(module.f)
    try:
        value_ref = seeded(reference["f"])(*copy.deepcopy(args64))
    except Exception as exc:  # noqa: BLE001 - after a cell the program may fail on its own
        raise Invalid(f"run{suffix}: {type(exc).__name__}: {exc}") from exc
    after_f = copy.deepcopy(args)
    try:
        with srcad_running():
            value = f(*after_f)
    except srcad.SrcadError as exc:    # a transform inside f refuses
        out.refusals.append(("f" + suffix, f"{type(exc).__name__}: {exc}".splitlines()[0]))
        return
    except Exception as exc:  # noqa: BLE001
        if program.nested and inputs.default_kinds(program):
            raise CheckFailure("f" + suffix, f"crash {type(exc).__name__}: {exc}\n"
                               + traceback.format_exc(limit=-4)) from exc
        raise Invalid(f"run with the input kinds: {type(exc).__name__}: {exc}") from exc
    if not (value is None and value_ref is None or tol.close(value, value_ref,
                                                             rtol=tol.value_rtol)):
        if program.nested and (_jax_value_is(jax_ns, args64, value, tol)
                               or _reference_unsure(reference, args64, value, value_ref)):
            raise Invalid("the reference's differences inside f are not exact enough")
        if program.nested and inputs.default_kinds(program):
            raise CheckFailure("f" + suffix, f"f returns {value!r}; without srcad the program "
                               f"returns {value_ref!r}")
        raise NoInputs("the input kinds change f's value")
    oracles = Oracles(program, reference, jax_ns, args64, positions, multi, tol, rng)
    oracles.jax_value_matches(value_ref)

    def run(check, fn, before=None):
        """(True, result) or (False, None) on a refusal; a CheckFailure otherwise.

        The arguments must be as they were before the call (or as ``before``:
        the primal run by vjp leaves a function's writes into its arguments for
        the pullback to undo), or as f itself leaves them."""
        check += suffix
        check_args = before is not False
        before = copy.deepcopy(args) if before is None or before is False else before
        try:
            np.random.seed(0)
            with srcad_running():
                result = fn()
        except srcad.SrcadError as exc:
            settle(check, before, f" by a call that was refused: {exc}".splitlines()[0])
            out.refusals.append((check, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return False, None
        except (CheckFailure, _Timeout, Invalid):
            raise
        except Exception as exc:  # noqa: BLE001 - srcad must refuse or be right
            tb = traceback.format_exc(limit=-4)
            raise CheckFailure(check, f"crash {type(exc).__name__}: {exc}\n{tb}") from exc
        if check_args:
            settle(check, before, " by the call")
        return True, result

    def settle(check, before, how):
        """The arguments as they were before the call, or as f itself leaves them (then
        put back); a CheckFailure otherwise."""
        if not all(same_args([a], [b]) or same_args([a], [c])
                   for a, b, c in zip(args, before, after_f)):
            raise CheckFailure(check, "arguments changed" + how)
        if not same_args(args, before):
            for i, b in enumerate(before):
                args[i] = copy.deepcopy(b)

    def judge(check, got, answers):
        for oracle, expected in answers:
            if not tol.close(got, expected):
                if not finite(got) and oracles.nonfinite_on_the_way():
                    raise Skip("the program computes nan or inf on the way, and the "
                               "derivative takes it up")
                raise CheckFailure(check + suffix, f"got {got!r}\nexpected ({oracle}) "
                                   f"{expected!r}")
        out.checks.append(check + suffix)
        out.oracles.update(oracle for oracle, _ in answers)

    def skip(check, exc):
        out.skips.append((check + suffix, str(exc)))

    scalar = value is not None and not isinstance(value, (tuple, list)) and np.ndim(value) == 0
    size_one = not scalar and value is not None and not isinstance(value, (tuple, list)) \
        and np.size(value) == 1

    # 1. grad and value_and_grad: right, or refused where f's result is not a scalar
    def gradient_check(check, transform):
        def call():
            made_now = transform()
            if not suffix:
                made.setdefault(check, made_now)
            return made_now(*args)
        ok, got = run(check, call)
        if not ok:
            return
        grad = got[1] if check.startswith("value_and_grad") else got
        if not scalar:
            raise CheckFailure(check + suffix, f"f returns {value!r}, not a scalar, and "
                               f"{check} returned {got!r}")
        if check.startswith("value_and_grad") and not tol.close(got[0], value,
                                                                rtol=tol.value_rtol):
            raise CheckFailure(check + suffix, f"value {got[0]!r}, f returns {value!r}")
        for g, p in zip(grad if multi else (grad,), positions):
            if not like(g, args[p]):
                raise CheckFailure(check + suffix, f"the gradient of {PARAMS[p]} "
                                   f"({type(args[p]).__name__} {np.shape(args[p])}) is "
                                   f"{type(g).__name__} {np.shape(g)}: {g!r}")
        try:
            judge(check, grad, answers.setdefault("grad", oracles.grad()))
        except Skip as exc:
            skip(check, exc)

    answers = {}
    if not size_one:
        for check, transform in (("grad", srcad.grad), ("value_and_grad", srcad.value_and_grad)):
            if suffix and check in made:
                gradient_check(check + " made before", lambda c=check: made[c])
            gradient_check(check, lambda t=transform: t(module.f, wrt=wrt))
    if value is None:
        return

    # 2. jvp and vjp, against the oracles and each other
    v = [_like_values(args64[p], rng) for p in positions]
    u = _like_values(value, rng)
    ok_j, res = run("jvp", lambda: srcad.jvp(module.f, wrt=wrt)(*args, *v))
    if ok_j:
        value_j, jv = res
        if not tol.close(value_j, value, rtol=tol.value_rtol):
            raise CheckFailure("jvp value" + suffix, f"got {value_j!r}, f returns {value!r}")
        try:
            judge("jvp", jv, oracles.jvp(v))
        except Skip as exc:
            skip("jvp", exc)
    before_vjp = copy.deepcopy(args)
    ok_v, res = run("vjp", lambda: srcad.vjp(module.f, wrt=wrt)(*args), before=False)
    if ok_v:
        value_v, pullback = res
        if not tol.close(value_v, value, rtol=tol.value_rtol):
            raise CheckFailure("vjp value" + suffix, f"got {value_v!r}, f returns {value!r}")
        ok_v, jtu = run("vjp pullback", lambda: pullback(u), before=before_vjp)
    if ok_v:
        jtu = jtu if multi else (jtu,)
        try:
            judge("vjp", jtu, oracles.vjp(u))
        except Skip as exc:
            skip("vjp", exc)
    if ok_j and ok_v:
        left = inner(u, jv)
        right = sum(inner(vk, gk) for vk, gk in zip(v, jtu))
        if not np.isfinite(left + right) and oracles.nonfinite_on_the_way():
            skip("identity", "the program computes nan or inf on the way")
        elif not np.isclose(left, right, rtol=max(tol.rtol, 1e-8),
                            atol=1e-10 * max(1.0, abs(left))):
            raise CheckFailure("identity" + suffix, f"<J v, u> = {left!r} but <v, J^T u> = "
                               f"{right!r}")
        else:
            out.checks.append("identity" + suffix)

    # 3. hvp
    if scalar and with_hvp and not suffix and "grad" in out.checks:
        ok, hv = run("hvp", lambda: srcad.hvp(module.f, wrt=wrt)(*args, *v))
        if ok:
            try:
                judge("hvp", hv, oracles.hvp(v))
            except Skip as exc:
                skip("hvp", exc)
