"""Random-program fuzzer: generates small Python + NumPy functions and checks
srcad's derivatives of them against finite differences.

Each program is generated from one integer seed (``random.Random(seed)``), as
source text, written to a module file in a temporary folder (srcad reads
source with ``inspect``) and imported. Its signature is always

    def f(x, y, W, s, d, k, flag):

with ``x``, ``y`` of shape (n,), ``W`` of shape (m, n), ``s`` a Python float
(the candidates for ``wrt``), and data arguments ``d`` (shape (n,), entries
at least 0.2 away from 0), ``k`` (an int in 1..3) and ``flag`` (a bool) that
are never differentiated. The body composes assignments and reassignments,
augmented assignment, elementwise functions, broadcasting, reductions,
matmul, ``for``/``while`` loops with ``break``/``continue``, ``if``/``else``,
subscript reads and writes into buffers, aliases and views, lists, tuples,
calls to module-level helpers (with keywords), a helper defined inside the
function, and list comprehensions.

Checks, for each program (``check_program``):

1. ``srcad.grad`` against five-point central differences (tests/oracle.py);
2. ``srcad.jvp`` against a directional difference, ``srcad.vjp`` against the
   finite-difference vector-Jacobian product, and <J v, u> = <v, J^T u>;
3. for some programs, ``srcad.hvp`` against a directional difference of
   ``srcad.grad``;
4. the arguments are unchanged after every transformed call.

A ``srcad.SrcadError`` is a refusal, never a failure. A wrong number, a
different value, a changed argument, or any other exception raised by srcad
(or by the code it generated) is a failure.

Branch boundaries and kinks: the program is also run once in a "twin" form
whose comparisons and kinked primitives (``np.max``, ``np.maximum``,
``np.abs``, ...) record how close they came to their boundary; inputs within
1e-2 of one are redrawn, so finite differences never straddle a kink.

Command line::

    python tests/fuzz_programs.py --count 3000 --seed 1      # prints failures
    python tests/fuzz_programs.py --one 1000017 --show        # one program
"""
import argparse
import ast
import copy
import importlib.util
import os
import random
import signal
import sys
import tempfile
import traceback
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import srcad  # noqa: E402
from oracle import FD_STEP, inner, numerical_grad, numerical_vjp  # noqa: E402

PARAMS = ("x", "y", "W", "s", "d", "k", "flag")
DIFF_PARAMS = ("x", "y", "W", "s")

# ---------------------------------------------------------------------------
# Program generator
# ---------------------------------------------------------------------------
# Kinds of values the generator tracks: "S" scalar, "N" shape (n,), "M" shape
# (m,), "MN" shape (m, n), "O" shape (1,).
ARRAY_KINDS = ("N", "M", "MN", "O")
KINDS = ("S",) + ARRAY_KINDS

# kinds a binary elementwise op may combine into each result kind
BROADCAST = {
    "S": [("S", "S")],
    "O": [("O", "O"), ("O", "S"), ("S", "O")],
    "N": [("N", "N"), ("N", "S"), ("S", "N"), ("N", "O"), ("O", "N")],
    "M": [("M", "M"), ("M", "S"), ("S", "M"), ("M", "O")],
    "MN": [("MN", "MN"), ("MN", "N"), ("N", "MN"), ("MN", "S"), ("MN", "O"), ("MCOL", "N")],
}
# kinds that may be added in place into a variable of each kind (v += e)
INPLACE = {
    "S": ["S"],
    "O": ["O", "S"],
    "N": ["N", "S", "O"],
    "M": ["M", "S", "O"],
    "MN": ["MN", "N", "S", "O"],
}


def broadcast_kind(ka, kb):
    order = {"S": 0, "O": 1, "N": 2, "M": 2, "MN": 3}
    if ka == kb:
        return ka
    if {ka, kb} == {"N", "M"}:
        raise ValueError("incompatible")
    return ka if order[ka] >= order[kb] else kb


class Scope:
    """Variables visible at a point of the program, by kind."""

    def __init__(self, parent=None):
        self.parent = parent
        self.vars = {}          # name -> kind
        self.lists = {}         # name -> (element kind, length or None)
        self.buffers = set()    # arrays that are safe targets of item writes
        self.ints = {}          # int variables (loop counters) -> upper bound

    def lookup_all(self):
        out = {} if self.parent is None else self.parent.lookup_all()
        out.update(self.vars)
        return out

    def all_lists(self):
        out = {} if self.parent is None else self.parent.all_lists()
        out.update(self.lists)
        return out

    def all_buffers(self):
        out = set() if self.parent is None else self.parent.all_buffers()
        return out | self.buffers

    def all_ints(self):
        out = {} if self.parent is None else self.parent.all_ints()
        out.update(self.ints)
        return out


class ProgramGenerator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = self.rng.choice([3, 4, 4, 5])
        self.m = self.rng.choice([2, 3, 3, 4])
        self.k = self.rng.randint(1, 3)
        self.counter = 0
        self.helpers = []       # (name, kind signature, source)
        self.helper_src = []
        self.inner_fn = None    # name of the helper defined inside f
        self.in_loop = 0

    # --- small utilities ---------------------------------------------------
    def fresh(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def chance(self, p):
        return self.rng.random() < p

    def const(self):
        return repr(round(self.rng.choice([0.5, 0.7, 1.3, -0.4, 0.25, 2.0, -1.1, 0.9]), 2))

    def size(self, kind):
        return {"N": self.n, "M": self.m, "O": 1}[kind]

    def index(self, kind, scope):
        """An int expression that indexes an axis of the given kind's length."""
        size = self.size(kind)
        ints = scope.all_ints()
        options = [str(self.rng.randrange(size)), "-1"]
        if ints:
            i = self.rng.choice(sorted(ints))
            options += [f"{i} % {size}", f"({i} + 1) % {size}"]
        options.append(f"k % {size}")
        return self.rng.choice(options)

    # --- expressions -----------------------------------------------------------
    def leaf(self, kind, scope):
        names = [v for v, k in scope.lookup_all().items() if k == kind]
        if names and self.chance(0.85):
            return self.rng.choice(names)
        if kind == "S":
            return self.rng.choice([self.const(), "s", f"x[{self.index('N', scope)}]"])
        if kind == "N":
            return self.rng.choice(["x", "y", "d"])
        if kind == "M":
            return f"W[:, {self.index('N', scope)}]"
        if kind == "MN":
            return "W"
        if kind == "O":
            return self.rng.choice(["x[:1]", "y[-1:]"])
        if kind == "MCOL":
            return f"{self.leaf('M', scope)}[:, None]"
        raise ValueError(kind)

    def expr(self, kind, scope, depth=2):
        if kind == "MCOL":
            return f"{self.expr('M', scope, depth - 1)}[:, None]"
        if depth <= 0 or self.chance(0.25):
            return self.leaf(kind, scope)
        choice = self.rng.choices(
            ["unary", "binary", "reduce", "call", "kink", "special"],
            weights=[4, 5, 3, 1.5 if self.helpers or self.inner_fn else 0, 1, 2])[0]
        if choice == "unary":
            return self.unary(self.expr(kind, scope, depth - 1))
        if choice == "binary":
            ka, kb = self.rng.choice(BROADCAST[kind])
            a = self.expr(ka, scope, depth - 1)
            b = self.expr(kb, scope, depth - 1)
            op = self.rng.choice(["+", "-", "*", "*", "/", "/2"])
            if op == "/":
                return f"({a}) / (({b}) ** 2 + 1.0)"
            if op == "/2":
                a = self.expr(kind, scope, depth - 1)
                return f"({a}) / {self.rng.choice(['2.0', '3', '-1.5'])}"
            return f"({a}) {op} ({b})"
        if choice == "kink":
            ka, kb = self.rng.choice(BROADCAST[kind])
            if ka == "MCOL" or kb == "MCOL":
                ka = kb = kind
            fn = self.rng.choice(["np.maximum", "np.minimum", "abs"])
            if fn == "abs":
                return f"np.abs({self.expr(kind, scope, depth - 1)})"
            return f"{fn}({self.expr(ka, scope, depth - 1)}, {self.expr(kb, scope, depth - 1)})"
        if choice == "call":
            return self.call(kind, scope, depth)
        if choice == "reduce":
            return self.reduce(kind, scope, depth)
        return self.special(kind, scope, depth)

    def unary(self, e):
        forms = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(0.5 * np.sin({}))",
                 "np.log(({}) ** 2 + 1.0)", "np.sqrt(({}) ** 2 + 1.0)", "({}) ** 2",
                 "-({})", "1.0 / (1.0 + ({}) ** 2)", "np.exp(-({}) ** 2)",
                 "np.square({})", "np.tanh({}) * 0.5"]
        return self.rng.choice(forms).format(e)

    def reduce(self, kind, scope, depth):
        d1 = depth - 1
        if kind == "S":
            src = self.rng.choice(["N", "N", "M", "MN", "O"])
            e = self.expr(src, scope, d1)
            forms = [f"np.sum({e})", f"np.mean({e})", f"({e}).sum()", f"np.max({e})",
                     f"np.min({e})", f"({e}).max()"]
            if src == "N":
                e2 = self.expr("N", scope, d1)
                forms += [f"({e}) @ ({e2})", f"np.dot({e}, {e2})",
                          f"({e})[{self.index('N', scope)}]",
                          f"np.sum(({e})[1:] * ({e2})[:-1])",
                          f"np.sum(({e})[::-1] * ({e2}))",
                          f"np.sum(({e})[[0, 0, 1]] * np.array([0.5, -1.0, 2.0]))",
                          f"np.sum(({e})[d > 0])",
                          f"np.sum(({e}) ** 2) ** 0.5"]
            if src == "MN":
                forms += [f"({e})[{self.index('M', scope)}, {self.index('N', scope)}]"]
            return self.rng.choice(forms)
        if kind == "N":
            e = self.expr("MN", scope, d1)
            forms = [f"np.sum({e}, axis=0)", f"np.mean({e}, axis=0)", f"np.max({e}, axis=0)",
                     f"({e}).T @ ({self.expr('M', scope, d1)})",
                     f"({self.expr('M', scope, d1)}) @ ({e})",
                     f"({e})[{self.index('M', scope)}]",
                     f"({self.expr('N', scope, d1)})[::-1]",
                     f"np.cumsum({self.expr('N', scope, d1)})",
                     f"np.concatenate([({self.expr('N', scope, d1)})[1:], "
                     f"({self.expr('N', scope, d1)})[:1]])"]
            return self.rng.choice(forms)
        if kind == "M":
            e = self.expr("MN", scope, d1)
            forms = [f"np.sum({e}, axis=1)", f"({e}) @ ({self.expr('N', scope, d1)})",
                     f"np.dot({e}, {self.expr('N', scope, d1)})",
                     f"({e})[:, {self.index('N', scope)}]", f"np.max({e}, axis=1)"]
            return self.rng.choice(forms)
        if kind == "MN":
            forms = [f"np.outer({self.expr('M', scope, d1)}, {self.expr('N', scope, d1)})",
                     f"({self.expr('M', scope, d1)})[:, None] * ({self.expr('N', scope, d1)})"]
            return self.rng.choice(forms)
        if kind == "O":
            e = self.expr("N", scope, d1)
            return self.rng.choice([f"np.sum({e}, keepdims=True)", f"({e})[:1]",
                                    f"({e})[-1:]"])
        raise ValueError(kind)

    def special(self, kind, scope, depth):
        d1 = depth - 1
        lists = scope.all_lists()
        usable = [(name, ek, length) for name, (ek, length) in lists.items()]
        if usable and self.chance(0.5):
            name, ek, length = self.rng.choice(usable)
            if kind == "S" and ek == "S":
                return self.rng.choice([f"np.sum(np.array({name}) ** 2)", f"{name}[0]",
                                        f"{name}[-1]", f"sum({name})", f"np.mean(np.array({name}))"])
            if kind == "S" and ek == "N":
                return self.rng.choice([f"np.sum(np.array({name}) ** 2)",
                                        f"np.sum({name}[-1])", f"np.sum(np.stack({name}))"])
            if kind == "N" and ek == "N":
                return self.rng.choice([f"np.sum(np.array({name}), axis=0)", f"{name}[0]",
                                        f"{name}[-1]", f"sum({name})"])
        if kind == "N" and self.chance(0.5):
            i = self.fresh("i")
            inner_scope = Scope(scope)
            inner_scope.ints[i] = self.n
            e = self.expr("S", inner_scope, d1)
            return f"np.array([{e} for {i} in range({self.n})])"
        if kind in ("N", "M", "MN", "O") and self.chance(0.5):
            cond = self.rng.choice(["d > 0", "d < 0.5"]) if kind == "N" else None
            if cond:
                return f"np.where({cond}, {self.expr(kind, scope, d1)}, {self.expr(kind, scope, d1)})"
        if kind == "S" and self.chance(0.4):
            return (f"({self.expr('S', scope, d1)}) if {self.data_cond(scope)} "
                    f"else ({self.expr('S', scope, d1)})")
        return self.unary(self.expr(kind, scope, d1))

    def call(self, kind, scope, depth):
        d1 = depth - 1
        options = []
        for name, sig, ret in self.helpers:
            if ret == kind or (ret == "P" and kind != "MCOL"):
                options.append((name, sig, ret))
        if self.inner_fn and kind != "MCOL":
            options.append((self.inner_fn, ("P",), "P"))
        if not options:
            return self.unary(self.expr(kind, scope, d1))
        name, sig, ret = self.rng.choice(options)
        if ret == "P":
            # polymorphic elementwise helper: arguments broadcast to `kind`
            pairs = [p for p in BROADCAST[kind] if "MCOL" not in p]
            ka, kb = self.rng.choice(pairs)
            arg_kinds = (ka, kb) if len(sig) == 2 else (kind,)
        else:
            arg_kinds = sig
        args = [self.expr(ak, scope, d1) for ak in arg_kinds]
        names = ["a", "b"][:len(args)] if name != self.inner_fn else ["u"]
        parts = []
        for j, (pname, a) in enumerate(zip(names, args)):
            if j > 0 and self.chance(0.4):
                parts.append(f"{pname}={a}")
            else:
                parts.append(a)
        # keyword arguments after a keyword must stay keywords
        seen_kw = False
        fixed = []
        for pname, part in zip(names, parts):
            if "=" in part.split("(")[0] and part.startswith(pname + "="):
                seen_kw = True
                fixed.append(part)
            elif seen_kw:
                fixed.append(f"{pname}={part}")
            else:
                fixed.append(part)
        if self.chance(0.5):
            fixed.append(f"scale={self.const()}")
        return f"{name}({', '.join(fixed)})"

    def data_cond(self, scope):
        ints = scope.all_ints()
        forms = ["flag", "not flag", f"k > {self.rng.randint(1, 3)}", "d[0] > 0",
                 f"np.sum(d) > {self.const()}"]
        if ints:
            i = self.rng.choice(sorted(ints))
            forms += [f"{i} % 2 == 0", f"{i} > 0", f"{i} == {self.rng.randint(0, 2)}"]
        return self.rng.choice(forms)

    def value_cond(self, scope):
        e = self.expr("S", scope, 1)
        return f"{e} > {self.const()}"

    def cond(self, scope):
        return self.value_cond(scope) if self.chance(0.4) else self.data_cond(scope)

    # --- helpers -----------------------------------------------------------------
    def make_helpers(self):
        count = self.rng.choice([0, 1, 1, 2])
        for j in range(count):
            name = f"helper{j}"
            style = self.rng.choice(["elementwise", "elementwise", "loop", "branch", "reduce"])
            lines = []
            if style == "reduce":
                lines.append(f"def {name}(a, b, scale=1.0):")
                lines.append(f"    t = {self.poly_expr(2)}")
                lines.append("    return np.sum(t * a) * scale + np.sum(b)")
                self.helpers.append((name, ("N", "N"), "S"))
            else:
                lines.append(f"def {name}(a, b, scale=0.5, steps=2, on=True):")
                if style == "elementwise":
                    lines.append(f"    t = {self.poly_expr(2)}")
                    if self.chance(0.5):
                        lines.append(f"    t = {self.poly_expr(1, extra=['t'])}")
                    if self.chance(0.3):
                        lines.append(f"    t += {self.poly_expr(1, extra=['t'])}")
                    lines.append("    return t * scale")
                elif style == "loop":
                    lines.append("    t = a * scale")
                    lines.append("    for _ in range(steps):")
                    lines.append(f"        t = {self.poly_expr(1, extra=['t'])}")
                    lines.append("    return t + b")
                else:
                    lines.append("    if on:")
                    lines.append(f"        t = {self.poly_expr(2)}")
                    lines.append("    else:")
                    lines.append(f"        t = {self.poly_expr(1)}")
                    lines.append("    return t * scale")
                self.helpers.append((name, ("P", "P"), "P"))
            self.helper_src.append("\n".join(lines))

    def poly_expr(self, depth, extra=()):
        """An elementwise expression of the helper parameters a, b (any broadcast kinds)."""
        leaves = ["a", "b", "scale"] + list(extra)
        if depth <= 0 or self.chance(0.2):
            return self.rng.choice(leaves)
        if self.chance(0.5):
            return self.unary(self.poly_expr(depth - 1, extra))
        op = self.rng.choice(["+", "-", "*"])
        return f"({self.poly_expr(depth - 1, extra)}) {op} ({self.poly_expr(depth - 1, extra)})"

    # --- statements ----------------------------------------------------------------
    def emit(self, lines, indent, text):
        lines.append("    " * indent + text)

    def assignable(self, scope, kinds=KINDS):
        return [(v, k) for v, k in scope.lookup_all().items()
                if k in kinds and v not in ("d",)]

    def statement(self, lines, indent, scope, budget, depth):
        """Emit one (possibly compound) statement; returns statements used."""
        weights = {
            "new": 6, "reassign": 5, "aug": 4, "buffer": 2, "write": 4, "alias": 1.5,
            "for": 2.5 if depth < 2 else 0, "while": 1 if depth < 2 else 0,
            "if": 2 if depth < 3 else 0, "tuple": 1, "list": 1.5 if depth < 2 else 0,
            "argwrite": 0.5, "view": 1.5,
        }
        kind = self.rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "new" or (kind in ("reassign", "aug") and not self.assignable(scope)):
            k = self.rng.choice(["S", "N", "N", "M", "MN", "O"])
            name = self.fresh()
            self.emit(lines, indent, f"{name} = {self.expr(k, scope)}")
            scope.vars[name] = k
            return 1
        if kind == "reassign":
            name, k = self.rng.choice(self.assignable(scope))
            self.emit(lines, indent, f"{name} = {self.expr(k, scope)}")
            return 1
        if kind == "aug":
            name, k = self.rng.choice(self.assignable(scope))
            op = self.rng.choice(["+=", "-=", "*=", "/="])
            rk = self.rng.choice(INPLACE[k])
            e = self.expr(rk, scope)
            if op == "/=":
                e = f"(({e}) ** 2 + 1.0)"
            elif op == "*=":
                e = f"np.tanh({e})"
            self.emit(lines, indent, f"{name} {op} {e}")
            return 1
        if kind == "buffer":
            k = self.rng.choice(["N", "N", "M", "MN"])
            name = self.fresh("buf")
            forms = {"N": ["np.zeros({n})", "np.zeros_like(x)", "x.copy()", "np.zeros(x.shape)",
                           "np.ones_like(y) * 0.5", f"({self.expr('N', scope, 1)}).copy()"],
                     "M": ["np.zeros({m})", "np.zeros(W.shape[0])"],
                     "MN": ["np.zeros(({m}, {n}))", "W.copy()", "np.zeros_like(W)"]}[k]
            self.emit(lines, indent, f"{name} = " + self.rng.choice(forms).format(n=self.n, m=self.m))
            scope.vars[name] = k
            scope.buffers.add(name)
            return 1
        if kind in ("write", "argwrite", "view"):
            if kind == "argwrite":
                targets = [(v, k) for v, k in (("x", "N"), ("y", "N"), ("W", "MN"))]
            else:
                bufs = scope.all_buffers()
                allvars = scope.lookup_all()
                targets = [(b, allvars[b]) for b in sorted(bufs) if b in allvars]
            if not targets:
                return self.statement(lines, indent, scope, budget, depth)
            name, k = self.rng.choice(targets)
            if kind == "view":
                # a view of the buffer, read later (maybe after writes into it)
                v = self.fresh("view")
                if k == "MN":
                    self.emit(lines, indent, f"{v} = {name}[{self.index('M', scope)}]")
                    scope.vars[v] = "N"
                elif k == "N":
                    form = self.rng.choice([f"{name}[:]", f"{name}[::-1]", f"{name}.reshape({self.n})"])
                    self.emit(lines, indent, f"{v} = {form}")
                    scope.vars[v] = "N"
                else:
                    self.emit(lines, indent, f"{v} = {name}[:]")
                    scope.vars[v] = k
                if self.chance(0.3):
                    scope.buffers.add(v)
                return 1
            self.emit(lines, indent, self.write(name, k, scope))
            return 1
        if kind == "alias":
            cands = self.assignable(scope, ARRAY_KINDS)
            if not cands:
                return self.statement(lines, indent, scope, budget, depth)
            src, k = self.rng.choice(cands)
            name = self.fresh("al")
            self.emit(lines, indent, f"{name} = {src}")
            scope.vars[name] = k
            if self.chance(0.5):
                scope.buffers.add(name)
            return 1
        if kind == "tuple":
            cands = self.assignable(scope)
            if len(cands) >= 2 and self.chance(0.4):
                (a, ka), (b, kb) = self.rng.sample(cands, 2)
                if ka == kb:
                    self.emit(lines, indent, f"{a}, {b} = {b}, {a}")
                    return 1
            ka, kb = self.rng.choice(KINDS), self.rng.choice(KINDS)
            t, p, q = self.fresh("t"), self.fresh(), self.fresh()
            self.emit(lines, indent, f"{t} = ({self.expr(ka, scope)}, {self.expr(kb, scope)})")
            if self.chance(0.5):
                self.emit(lines, indent, f"{p}, {q} = {t}")
            else:
                self.emit(lines, indent, f"{p} = {t}[0]")
                self.emit(lines, indent, f"{q} = {t}[1]")
            scope.vars[p] = ka
            scope.vars[q] = kb
            return 2
        if kind == "if":
            self.emit(lines, indent, f"if {self.cond(scope)}:")
            used = self.block(lines, indent + 1, Scope(scope), max(1, budget // 3), depth + 1)
            if self.chance(0.6):
                if self.chance(0.3):
                    self.emit(lines, indent, f"elif {self.cond(scope)}:")
                    used += self.block(lines, indent + 1, Scope(scope), max(1, budget // 4), depth + 1)
                self.emit(lines, indent, "else:")
                used += self.block(lines, indent + 1, Scope(scope), max(1, budget // 3), depth + 1)
            return used + 1
        if kind == "for":
            i = self.fresh("i")
            bound = self.rng.choice(["k", str(self.rng.randint(1, 4)), f"{self.n}", "len(x)"])
            flow = self.rng.choice([None, None, "break", "continue"])
            lst = None
            if self.chance(0.35) and flow is None:
                lst = self.fresh("L")
                self.emit(lines, indent, f"{lst} = []")
            if self.rng.random() < 0.2 and flow is None:
                self.emit(lines, indent, f"for {i}, {self.fresh('e')} in enumerate(x):")
                bound = str(self.n)
            else:
                self.emit(lines, indent, f"for {i} in range({bound}):")
            body = Scope(scope)
            body.ints[i] = bound
            self.in_loop += 1
            used = self.block(lines, indent + 1, body, max(1, budget // 3), depth + 1,
                              flow=flow, loopvar=i)
            if lst:
                ek = self.rng.choice(["S", "N"])
                self.emit(lines, indent + 1, f"{lst}.append({self.expr(ek, body)})")
                scope.lists[lst] = (ek, None)
            self.in_loop -= 1
            return used + 1
        if kind == "while":
            j = self.fresh("j")
            self.emit(lines, indent, f"{j} = 0")
            bound = self.rng.choice(["k", str(self.rng.randint(1, 3))])
            self.emit(lines, indent, f"while {j} < {bound}:")
            self.emit(lines, indent + 1, f"{j} += 1")
            body = Scope(scope)
            body.ints[j] = bound
            self.in_loop += 1
            flow = self.rng.choice([None, None, "break", "continue"])
            used = self.block(lines, indent + 1, body, max(1, budget // 3), depth + 1,
                              flow=flow, loopvar=j)
            self.in_loop -= 1
            scope.ints[j] = bound
            return used + 2
        if kind == "list":
            lst = self.fresh("L")
            ek = self.rng.choice(["S", "N"])
            self.emit(lines, indent, f"{lst} = [{self.expr(ek, scope, 1)}]")
            if self.chance(0.5):
                self.emit(lines, indent, f"{lst}.append({self.expr(ek, scope, 1)})")
            scope.lists[lst] = (ek, None)
            return 2
        raise AssertionError(kind)

    def write(self, name, k, scope):
        op = self.rng.choice(["=", "=", "+=", "-=", "*="])

        def rhs(kind):
            e = self.expr(kind, scope, 1)
            return f"np.tanh({e})" if op == "*=" else e

        if k in ("N", "M", "O"):
            size = self.size(k)
            form = self.rng.choice(["item", "item", "slice", "fancy", "mask", "all"])
            if form == "item" or size < 2:
                return f"{name}[{self.index(k, scope)}] {op} {rhs('S')}"
            if form == "slice":
                a = self.rng.randrange(size - 1)
                b = self.rng.randint(a + 1, size)
                if k == "N" and self.chance(0.5):
                    return f"{name}[{a}:{b}] {op} ({rhs('N')})[{a}:{b}]"
                return f"{name}[{a}:{b}] {op} {rhs('S')}"
            if form == "fancy":
                idx = sorted({self.rng.randrange(size) for _ in range(2)})
                return f"{name}[{idx}] {op} {rhs('S')}"
            if form == "mask" and k == "N":
                return f"{name}[d > 0] {op} {rhs('S')}"
            return f"{name}[:] {op} {rhs(k)}"
        # MN
        form = self.rng.choice(["item", "row", "col", "rowslice"])
        if form == "item":
            return f"{name}[{self.index('M', scope)}, {self.index('N', scope)}] {op} {rhs('S')}"
        if form == "row":
            return f"{name}[{self.index('M', scope)}] {op} {rhs('N')}"
        if form == "col":
            return f"{name}[:, {self.index('N', scope)}] {op} {rhs('M')}"
        return f"{name}[1:] {op} {rhs('N')}"

    def block(self, lines, indent, scope, budget, depth, flow=None, loopvar=None):
        count = self.rng.randint(1, max(1, min(budget, 4)))
        used = 0
        flow_at = self.rng.randrange(count + 1) if flow else None
        for j in range(count + 1):
            if flow_at == j:
                if self.chance(0.5):
                    cond = self.data_cond(scope)
                else:
                    cond = self.value_cond(scope)
                self.emit(lines, indent, f"if {cond}:")
                if self.chance(0.5):
                    name, k = self.rng.choice(self.assignable(scope) or [("s", "S")])
                    if name != "s":
                        self.emit(lines, indent + 1, f"{name} = {self.expr(k, scope, 1)}")
                self.emit(lines, indent + 1, flow)
                used += 1
            if j < count:
                used += self.statement(lines, indent, scope, budget - used, depth)
        return used

    def body(self):
        lines = []
        scope = Scope()
        scope.vars.update({"x": "N", "y": "N", "W": "MN", "s": "S", "d": "N"})
        if self.chance(0.25):
            self.inner_fn = "inner"
            free = self.rng.choice(["s", "z0"])
            lines.append("    def inner(u, scale=0.5):")
            lines.append(f"        return np.tanh(u) * scale + u * {free}")
            if free == "z0":
                lines.append(f"    z0 = {self.expr('S', scope, 1)}")
                scope.vars["z0"] = "S"
        budget = self.rng.randint(5, 20)
        used = 0
        while used < budget:
            used += self.statement(lines, 1, scope, budget - used, 0)
        # the output: a scalar mostly, sometimes a vector or a tuple
        live = [v for v, k in scope.vars.items() if v not in PARAMS]
        live = live[-4:] or ["x"]
        picks = self.rng.sample(live, min(len(live), self.rng.randint(1, 3)))
        terms = []
        for v in picks:
            terms.append(self.rng.choice([f"np.sum({v} ** 2)", f"np.sum(np.sin({v}))",
                                          f"np.sum({v})", f"np.mean({v} * {v})"]))
        scalar = " + ".join(terms)
        form = self.rng.choices(["scalar", "vector", "tuple"], weights=[7, 2, 1])[0]
        if form == "scalar":
            lines.append(f"    return {scalar}")
        elif form == "vector":
            lines.append(f"    return {self.expr('N', scope, 2)}")
        else:
            lines.append(f"    return {scalar}, {self.expr('N', scope, 1)}")
        self.output = form
        return lines

    def generate(self):
        self.make_helpers()
        body = self.body()
        src = ["import numpy as np", ""]
        for h in self.helper_src:
            src += [h, ""]
        src.append("def f(x, y, W, s, d, k, flag):")
        src += body
        return "\n".join(src) + "\n"


# ---------------------------------------------------------------------------
# The twin: records how close each comparison and kink comes to its boundary
# ---------------------------------------------------------------------------

class _Gaps:
    def __init__(self):
        self.values = []

    def add(self, g):
        g = np.asarray(g, dtype=float)
        if g.size:
            self.values.append(float(np.min(np.abs(g))))

    def gap(self, a, b):
        diff = a - b
        if not isinstance(a, (int, bool)) or not isinstance(b, (int, bool)):
            self.add(diff)
        return diff

    def extremum(self, fn, a, axis=None, **kw):
        arr = np.asarray(a, dtype=float)
        if arr.size > 1:
            if axis is None:
                flat = np.sort(arr.ravel())
                self.add(flat[1:] - flat[:-1])
            else:
                s = np.sort(arr, axis=axis)
                self.add(np.diff(s, axis=axis))
        return fn(a, axis=axis, **kw)

    def max(self, a, axis=None, **kw):
        return self.extremum(np.max, a, axis, **kw)

    def min(self, a, axis=None, **kw):
        return self.extremum(np.min, a, axis, **kw)

    def maximum(self, a, b):
        self.add(np.asarray(a) - np.asarray(b))
        return np.maximum(a, b)

    def minimum(self, a, b):
        self.add(np.asarray(a) - np.asarray(b))
        return np.minimum(a, b)

    def abs(self, a):
        self.add(a)
        return np.abs(a)


class _Twin(ast.NodeTransformer):
    KINKS = {"max", "min", "maximum", "minimum", "abs"}

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Lt, ast.Gt, ast.LtE, ast.GtE)):
            call = ast.Call(ast.Attribute(ast.Name("_fz", ast.Load()), "gap", ast.Load()),
                            [node.left, node.comparators[0]], [])
            return ast.Compare(call, node.ops, [ast.Constant(0)])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        fn = node.func
        if isinstance(fn, ast.Attribute) and fn.attr in self.KINKS:
            if isinstance(fn.value, ast.Name) and fn.value.id == "np":
                node.func = ast.Attribute(ast.Name("_fz", ast.Load()), fn.attr, ast.Load())
            elif fn.attr in ("max", "min"):   # a method call: e.max()
                node.func = ast.Attribute(ast.Name("_fz", ast.Load()), fn.attr, ast.Load())
                node.args = [fn.value] + node.args
        return node


def twin_function(source):
    tree = _Twin().visit(ast.parse(source))
    ast.fix_missing_locations(tree)
    gaps = _Gaps()
    ns = {"_fz": gaps, "__name__": "fuzz_twin"}
    exec(compile(tree, "<fuzz twin>", "exec"), ns)
    return ns["f"], gaps


# ---------------------------------------------------------------------------
# Checking one program
# ---------------------------------------------------------------------------

class Outcome:
    def __init__(self, seed, source):
        self.seed = seed
        self.source = source
        self.status = "ok"        # ok | refused | failed | invalid | skipped
        self.checks = []          # names of the checks run and passed
        self.refusals = []        # (check, message)
        self.failure = None       # (check, message)

    def __repr__(self):
        return f"Outcome(seed={self.seed}, status={self.status})"


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("program took too long")


class CheckFailure(Exception):
    pass


def draw_args(gen, rng):
    n, m = gen.n, gen.m
    x = rng.uniform(-1.0, 1.0, n)
    y = rng.uniform(-1.0, 1.0, n)
    W = rng.uniform(-1.0, 1.0, (m, n))
    s = float(rng.uniform(-1.0, 1.0))
    d = rng.uniform(0.2, 1.0, n) * rng.choice([-1.0, 1.0], n)
    return [x, y, W, s, d, gen.k, bool(rng.integers(2))]


def _tree_map(fn, *xs):
    first = xs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_tree_map(fn, *parts) for parts in zip(*xs))
    return fn(*xs)


def _allclose(got, expected, rtol, atol):
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False
        return all(_allclose(g, e, rtol, atol) for g, e in zip(got, expected))
    g = np.asarray(got, dtype=float)
    e = np.asarray(expected, dtype=float)
    if g.shape != e.shape:
        return False
    return bool(np.allclose(g, e, rtol=rtol, atol=atol))


def _scale(x):
    if isinstance(x, (tuple, list)):
        return max([_scale(v) for v in x] + [1.0])
    return max(1.0, float(np.max(np.abs(np.asarray(x, dtype=float)))) if np.size(x) else 1.0)


def _same_args(args, before):
    for a, b in zip(args, before):
        if isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)):
                return False
        elif a != b:
            return False
    return True


def _directional(fn, args, positions, directions, h=FD_STEP):
    def at(t):
        moved = copy.deepcopy(list(args))
        for p, v in zip(positions, directions):
            moved[p] = moved[p] + t * v
        return fn(*moved)
    outs = [at(t) for t in (-2 * h, -h, h, 2 * h)]
    ws = [1 / (12 * h), -8 / (12 * h), 8 / (12 * h), -1 / (12 * h)]
    return _tree_map(lambda *o: sum(w * np.asarray(v, dtype=float) for w, v in zip(ws, o)),
                     *outs)


def _like(value, rng):
    if isinstance(value, (tuple, list)):
        return type(value)(_like(v, rng) for v in value)
    if isinstance(value, np.ndarray) or np.ndim(value):
        return rng.uniform(-1.0, 1.0, np.shape(value))
    return float(rng.uniform(-1.0, 1.0))


_TMPDIR = None
_LOADS = [0]


def load_program(seed, source):
    global _TMPDIR
    if _TMPDIR is None:
        _TMPDIR = tempfile.mkdtemp(prefix="srcad_fuzz_")
    _LOADS[0] += 1
    name = f"fuzzprog_{seed}_{_LOADS[0]}"
    path = os.path.join(_TMPDIR, name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f


def check_program(seed, hvp_every=3, time_limit=30, source=None):
    gen = ProgramGenerator(seed)
    generated = gen.generate()
    source = generated if source is None else source
    out = Outcome(seed, source)
    rng = np.random.default_rng(seed)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(time_limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check(gen, source, out, rng, hvp_every)
    except _Timeout:
        out.status = "failed"
        out.failure = ("timeout", f"no result after {time_limit} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return out


def _check(gen, source, out, rng, hvp_every):
    # a valid program, and inputs away from every branch boundary and kink
    try:
        twin, gaps = twin_function(source)
        f = load_program(out.seed, source)
    except Exception as exc:  # the generator wrote something Python rejects
        out.status = "invalid"
        out.failure = ("generate", f"{type(exc).__name__}: {exc}")
        return
    for _ in range(8):
        args = draw_args(gen, rng)
        gaps.values.clear()
        try:
            value = twin(*copy.deepcopy(args))
        except Exception as exc:
            out.status = "invalid"
            out.failure = ("run", f"{type(exc).__name__}: {exc}")
            return
        finite = all(np.all(np.isfinite(np.asarray(v, dtype=float)))
                     for v in (value if isinstance(value, tuple) else (value,)))
        if not finite or _scale(value) > 1e6:
            continue
        if not gaps.values or min(gaps.values) > 1e-2:
            break
    else:
        out.status = "skipped"
        return
    # what f leaves in its arguments (it may write into them): srcad's transforms leave
    # the arguments unchanged, or at most as f leaves them
    after_f = copy.deepcopy(args)
    expected_value = f(*after_f)

    pick = random.Random(out.seed + 7)
    n_wrt = pick.randint(1, 3)
    names = pick.sample(DIFF_PARAMS, n_wrt)
    positions = tuple(PARAMS.index(p) for p in names)
    wrt_items = tuple(name if pick.random() < 0.5 else PARAMS.index(name) for name in names)
    wrt = wrt_items if (len(wrt_items) > 1 or pick.random() < 0.3) else wrt_items[0]
    multi = isinstance(wrt, tuple)
    scalar_out = gen.output == "scalar"

    def run(check, fn, before=None):
        """Run a srcad call: True on success, False on a refusal; raises CheckFailure.

        The arguments must be as they were before the call (or as ``before``:
        the primal run by vjp leaves a function's in-place writes into its
        arguments for the pullback to undo)."""
        check_args = before is None or before is not False
        before = copy.deepcopy(args) if before is None else before
        try:
            result = fn()
        except srcad.SrcadError as exc:
            out.refusals.append((check, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return False, None
        except (CheckFailure, _Timeout):
            raise
        except Exception as exc:
            tb = traceback.format_exc(limit=-4)
            raise CheckFailure(check, f"crash {type(exc).__name__}: {exc}\n{tb}")
        if check_args and not all(_same_args([a], [b]) or _same_args([a], [c])
                                  for a, b, c in zip(args, before, after_f)):
            raise CheckFailure(check, "arguments changed by the call")
        if check_args and not _same_args(args, before):
            # as f itself changes them (a write by a call srcad runs as it is): put back
            for i, b in enumerate(before):
                args[i] = copy.deepcopy(b)
        return True, result

    def compare(check, got, expected, rtol=1e-5, atol_rel=1e-6):
        atol = atol_rel * max(_scale(expected), 1.0) * 10
        if not _allclose(got, expected, rtol, atol):
            raise CheckFailure(check, f"got {got!r}\nexpected {expected!r}")

    try:
        # 1. grad against finite differences
        if scalar_out:
            ok, got = run("grad", lambda: srcad.grad(f, wrt=wrt)(*args))
            if ok:
                expected = numerical_grad(f, args, wrt=positions if multi else positions[0])
                compare("grad", got, expected)
                grads = got if multi else (got,)
                for g, p in zip(grads, positions):
                    a = args[p]
                    if isinstance(a, np.ndarray):
                        if not isinstance(g, np.ndarray) or g.shape != a.shape:
                            raise CheckFailure("grad", f"gradient of {PARAMS[p]} is not shaped "
                                                       f"like it: {type(g).__name__} {np.shape(g)}")
                    elif not isinstance(g, float):
                        raise CheckFailure("grad", f"gradient of the float {PARAMS[p]} is a "
                                                   f"{type(g).__name__}")
                out.checks.append("grad")

        # 2. jvp / vjp, against differences and each other
        v = [_like(args[p], rng) for p in positions]
        u = _like(expected_value, rng)
        ok_j, res = run("jvp", lambda: srcad.jvp(f, wrt=wrt)(*args, *v))
        if ok_j:
            value, jv = res
            compare("jvp value", value, expected_value, rtol=1e-10, atol_rel=1e-11)
            compare("jvp", jv, _directional(f, args, positions, v))
            out.checks.append("jvp")
        before_vjp = copy.deepcopy(args)
        ok_v, res = run("vjp", lambda: srcad.vjp(f, wrt=wrt)(*args), before=False)
        if ok_v:
            value, pullback = res
            compare("vjp value", value, expected_value, rtol=1e-10, atol_rel=1e-11)
            ok_v, jtu = run("vjp pullback", lambda: pullback(u), before=before_vjp)
        if ok_v:
            jtu = jtu if multi else (jtu,)
            expected = numerical_vjp(f, args, u, wrt=positions)
            compare("vjp", jtu, expected)
            out.checks.append("vjp")
        if ok_j and ok_v:
            left = inner(u, jv)
            right = sum(inner(vk, gk) for vk, gk in zip(v, jtu))
            if not np.isclose(left, right, rtol=1e-8, atol=1e-10 * max(1.0, abs(left))):
                raise CheckFailure("identity", f"<J v, u> = {left!r} but <v, J^T u> = {right!r}")
            out.checks.append("identity")

        # 3. hvp against a difference of the gradient
        if scalar_out and hvp_every and out.seed % hvp_every == 0 and "grad" in out.checks:
            ok, hv = run("hvp", lambda: srcad.hvp(f, wrt=wrt)(*args, *v))
            if ok:
                g = srcad.grad(f, wrt=wrt)
                expected = _directional(lambda *a: g(*a), args, positions, v)
                compare("hvp", hv, expected, rtol=1e-4, atol_rel=1e-5)
                out.checks.append("hvp")
    except CheckFailure as exc:
        out.status = "failed"
        out.failure = (exc.args[0], exc.args[1])
        return
    if out.refusals and not out.checks:
        out.status = "refused"


def _drop(lines, i):
    """lines without line i and, for a compound statement, its block."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    if lines[i].rstrip().endswith(":"):
        while j < len(lines) and (len(lines[j]) - len(lines[j].lstrip()) > indent):
            j += 1
    out = lines[:i] + lines[j:]
    # a block left empty gets a pass
    if i > 0 and lines[i - 1].rstrip().endswith(":") and (
            i >= len(out) or len(out[i]) - len(out[i].lstrip()) <= indent - 4 + 0
            and len(out[i]) - len(out[i].lstrip()) < indent):
        out.insert(i, " " * indent + "pass")
    return out


def minimize(seed):
    """Drop statements from a failing program while it fails the same way."""
    first = check_program(seed)
    if first.status != "failed":
        return first

    def signature(o):
        msg = o.failure[1]
        kind = msg.split(":")[0] if msg.startswith("crash") else msg[:3]
        return (o.failure[0], kind)

    want = signature(first)
    lines = first.source.splitlines()
    best = first
    changed = True
    while changed:
        changed = False
        for i in range(len(lines) - 1, -1, -1):
            if i >= len(lines) or lines[i].startswith(("import", "def f(")) or \
                    lines[i].strip().startswith("return"):
                continue
            cand = _drop(lines, i)
            o = check_program(seed, source="\n".join(cand) + "\n")
            if o.status == "failed" and signature(o) == want:
                lines, best, changed = cand, o, True
    return best


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def program_seed(base, i):
    return base * 1_000_003 + i


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--one", type=int, help="check only this program seed")
    p.add_argument("--show", action="store_true", help="print every program's source")
    p.add_argument("--refusals", action="store_true", help="print refusal messages")
    p.add_argument("--invalid", action="store_true", help="print programs Python rejects")
    p.add_argument("--minimize", type=int, help="shrink this failing program seed")
    opts = p.parse_args(argv)
    if opts.minimize is not None:
        o = minimize(opts.minimize)
        print(o.source)
        print(o.status, o.failure and o.failure[0], o.failure and o.failure[1][:2000])
        return 0
    seeds = [opts.one] if opts.one is not None else [
        program_seed(opts.seed, i) for i in range(opts.count)]
    tally = {}
    refusal_kinds = {}
    failures = []
    for seed in seeds:
        o = check_program(seed)
        tally[o.status] = tally.get(o.status, 0) + 1
        for check, msg in o.refusals:
            key = msg.split(": ", 2)[-1][:70]
            refusal_kinds[key] = refusal_kinds.get(key, 0) + 1
        if opts.show or o.status == "failed" or (opts.invalid and o.status == "invalid"):
            print(f"=== seed {seed}: {o.status} {o.checks}")
            print(o.source)
            if o.failure:
                print(f"--- {o.failure[0]}: {o.failure[1]}\n")
            if opts.refusals:
                for r in o.refusals:
                    print("refused:", r)
        if o.status == "failed":
            failures.append(o)
    print(f"programs: {len(seeds)}  " + "  ".join(f"{k}: {v}" for k, v in sorted(tally.items())))
    if refusal_kinds:
        print("refusals (by message):")
        for key, c in sorted(refusal_kinds.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {c:5d}  {key}")
    if failures:
        print("failed seeds:", " ".join(str(o.seed) for o in failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
