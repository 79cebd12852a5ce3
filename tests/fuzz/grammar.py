"""The program grammar: one integer seed gives one module of Python + NumPy.

Every program defines

    def f(x, y, W, s, d, k, flag):

with ``x``, ``y`` of shape (n,), ``W`` of shape (m, n) and ``s`` a scalar (the
candidates for ``wrt``), and data arguments ``d`` (shape (n,), entries at
least 0.2 away from 0), ``k`` (an int in 1..3) and ``flag`` (a bool) that are
never differentiated.

The body is built from statements (assignments, augmented assignments,
buffers and item writes, aliases and views, tuples, lists, ``for``/``while``
with ``break``/``continue``, ``if``/``elif``/``else``) over expressions
(elementwise functions, broadcasting, reductions, matmul, kinks, list
comprehensions, calls of module-level helpers with keywords). On top of
these, each program draws some *features* (see ``FEATURES``), each a kind
of code people write that srcad may or may not support:

* ``alias``: module and function aliases (``xp = np`` local or global,
  ``import numpy as xp``, ``from numpy import tanh as th``, ``th = np.tanh``,
  ``getattr(np, "tanh")``, ``import numpy.linalg as la``);
* ``decorator``: ``functools.wraps`` wrappers, ``*args, **kwargs`` wrappers,
  wrappers without ``wraps``, decorator factories, on f or on a helper;
* ``builtins``: sorted (key, reverse), min, max, sum, abs, reversed, round,
  map, zip, enumerate, len, any, all over lists of values;
* ``nested``: helpers defined inside f (closures, two levels, lambdas,
  ``nonlocal``);
* ``transform``: srcad.grad / value_and_grad / jvp / vjp / hessian / hvp /
  jacobian objects called inside f, made at module level or inline;
* ``state``: module-level constants and arrays read by f, defaults bound to
  them, rebound between two rounds of checks (a notebook re-running a cell);
* ``notebook``: a helper redefined between two rounds of checks;
* ``rules``: calls drawn from the whole rule table (catalog.py), those
  declared without a derivative included;
* ``custom_rule``: a primitive of the program's own with ``@srcad.adjoint``
  (and maybe ``@srcad.tangent``) rules, well-formed or malformed;
* ``inputs``: other input kinds (float32 and int arrays, lists, tuples,
  ``np.matrix``, masked arrays, Python ints, NumPy scalars of int and float
  dtypes);
* ``exotic``: statements wider than srcad supports (try, with, lambda,
  walrus, global, assert, match, del, starred unpacking, for-else, async
  def, generator expressions, conversions);
* ``no_return``: f returns nothing.
* ``masks`` (a later feature): arithmetic with boolean masks (``g * (a > 0.1)``,
  ``g * m1 + g * m2``, sums and products of masks, ``np.where``, ``.astype(float)``,
  counts, means and boolean indexing).
* ``everyday`` (a later feature): ``.item()``, ``math`` functions, ``np.einsum``,
  norms, NumPy scalars, a recursive helper, ``len``, copies, reshapes, ``astype``,
  ``np.stack``, and progress messages (``print`` to a log, ``LOG.write``).
* ``objects``: a module-level class and its instance (methods reading
  ``self``'s data, ``@staticmethod``, ``@classmethod``, ``Class.method(obj,
  v)``), NamedTuples and dataclasses built in f and read by field, loops over
  ``dict.items()``/``.values()``, and functions as values (``apply_twice(fn,
  v)`` with a NumPy function, a helper, a lambda or a ``functools.partial``).

Each construct a program uses is recorded in ``Program.constructs`` for the
per-construct statistics.
"""
import random
import re
from dataclasses import dataclass, field

from . import catalog

PARAMS = ("x", "y", "W", "s", "d", "k", "flag")
DIFF_PARAMS = ("x", "y", "W", "s")

# probability that a program draws each feature
FEATURES = {"alias": 0.25, "decorator": 0.12, "builtins": 0.3, "nested": 0.15,
            "transform": 0.15, "state": 0.2, "notebook": 0.1, "rules": 0.45,
            "custom_rule": 0.1, "inputs": 0.3, "exotic": 0.12, "no_return": 0.03,
            "objects": 0.2}

# features added after seeds were kept as regression tests (tests/test_fuzz.py): each
# drawn, and its code, from a stream of its own, so that a program without it is
# still the one its seed always gave, and from one that none of those seeds draws it
# from (the first such stream name)
LATER_FEATURES = {"effects": 0.2, "masks": 0.2, "everyday": 0.2}
LATER_STREAMS = {"effects": "later features 1 of {}", "masks": "later features 131 of {}",
                 "everyday": "later features 183 of {}", "tuples": "later features 241 of {}"}

# a gradient's tuple used whole, where NumPy makes it an array: (made as, called as) of a
# form of make_transforms -> the same result kind, made and called so
WHOLE_TUPLES = {
    ("srcad.grad(tf, wrt=('b',))", "{t}({a}, {b})[0]"):
        ("srcad.grad(tf, wrt=('b',))", "np.sum({t}({a}, {b}))"),
    ("srcad.grad(tfs, wrt=(0,))", "{t}({b})[0]"):
        ("srcad.grad(tfs, wrt=(0,))", "np.sum(np.multiply({t}({b}), {b}))"),
    ("srcad.grad(tf, wrt=(0, 1))", "{t}({a}, {b})[0]"):
        ("srcad.grad(tf, wrt=('a',))", "np.sum(np.multiply({t}({a}, {b}), {v}), axis=0)"),
}

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

# input kinds a parameter may be given in (the first is the default)
INPUT_KINDS = {
    "x": ["f64", "f32", "list", "tuple", "int", "masked"],
    "y": ["f64", "f32", "masked"],
    "W": ["f64", "f32", "matrix", "masked"],
    "s": ["float", "int", "np.float64", "np.float32", "np.int64", "np.int32"],
}


@dataclass
class Program:
    seed: int
    source: str                 # the module's text
    n: int
    m: int
    k: int
    output: str                 # scalar | vector | tuple | none
    inputs: dict                # parameter -> input kind
    cells: list = field(default_factory=list)   # run in the module between two rounds
    constructs: set = field(default_factory=set)
    named: bool = True          # f's parameters can be named in wrt
    nested: bool = False        # transforms run inside f: the oracle's differences nest


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
    def __init__(self, seed, focus=()):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = self.rng.choice([3, 4, 4, 5])
        self.m = self.rng.choice([2, 3, 3, 4])
        self.k = self.rng.randint(1, 3)
        self.counter = 0
        self.helpers = []       # (name, kind signature, result kind)
        self.helper_src = []    # source of each helper
        self.inner_fns = []     # unary elementwise helpers defined inside f
        self.in_loop = 0
        self.features = {name for name, p in FEATURES.items() if self.rng.random() < p}
        streams = {name: random.Random(stream.format(seed))
                   for name, stream in LATER_STREAMS.items()}
        self.later, self.later_masks = streams["effects"], streams["masks"]
        self.later_everyday, self.later_tuples = streams["everyday"], streams["tuples"]
        self.made = set()       # module-level definitions the everyday feature made
        self.features |= {name for name, p in LATER_FEATURES.items()
                          if streams[name].random() < p}
        if focus:       # a run aimed at some features: those always, no others
            self.features = set(focus)
        self.constructs = set()
        self.module = []        # module-level lines after the imports
        self.globals = {}       # module-level constant -> kind
        self.transforms = []    # (call template, result kind, construct)
        self.customs = []       # primitives with custom rules
        self.cells = []
        self.named = True
        self.nested = False
        self.inputs = {p: kinds[0] for p, kinds in INPUT_KINDS.items()}
        self.prologue = []      # first lines of f's body

    # --- small utilities ---------------------------------------------------
    def fresh(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def chance(self, p):
        return self.rng.random() < p

    def tag(self, construct):
        self.constructs.add(construct)

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
        state = [g for g, k in self.globals.items() if k == kind]
        if state and self.chance(0.5):
            self.tag("state:global read")
            return self.rng.choice(state)
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
        if "masks" in self.features and kind != "MCOL" and self.later_masks.random() < 0.2:
            return self.mask_expr(kind, scope, depth)
        if "everyday" in self.features and kind != "MCOL" \
                and self.later_everyday.random() < 0.15:
            return self.everyday_expr(kind, scope, depth)
        weights = {"unary": 4, "binary": 5, "reduce": 3,
                   "call": 1.5 if self.helpers or self.inner_fns else 0, "kink": 1, "special": 2,
                   "rule": 1.5 if "rules" in self.features else 0,
                   "builtin": 1.2 if "builtins" in self.features and kind in ("S", "N") else 0,
                   "transform": 1.5 if any(k == kind for _, k, _ in self.transforms) else 0,
                   "custom": 1.2 if self.customs else 0,
                   "exotic": 0.6 if "exotic" in self.features and kind == "S" else 0,
                   "object": 1.2 if "objects" in self.features and kind in ("S", "N") else 0}
        choice = self.rng.choices(list(weights), weights=list(weights.values()))[0]
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
        if choice == "rule":
            return self.rule_call(kind, scope, depth)
        if choice == "builtin":
            return self.builtin(kind, scope, depth)
        if choice == "transform":
            return self.transform_call(kind, scope, depth)
        if choice == "custom":
            self.tag("custom_rule:call")
            return f"{self.rng.choice(self.customs)}({self.expr(kind, scope, depth - 1)})"
        if choice == "exotic":
            return self.exotic_expr(scope, depth)
        if choice == "object":
            return self.object_expr(kind, scope, depth)
        return self.special(kind, scope, depth)

    def mask(self, kind, scope, depth):
        """A boolean array (or bool) of the kind: a comparison, maybe combined or negated."""
        draw = self.later_masks
        m = f"(({self.expr(kind, scope, depth)}) {draw.choice(['>', '<', '>='])} " \
            f"{draw.choice(['0.1', '-0.3', '0.5', '0.0'])})"
        if draw.random() < 0.3:
            other = f"(({self.expr(kind, scope, depth)}) < {draw.choice(['0.2', '-0.1'])})"
            m = f"({m} {draw.choice(['&', '|', '^'])} {other})"
        if draw.random() < 0.15:
            m = f"(~{m})" if kind != "S" else f"(not {m})"
        return m

    def mask_expr(self, kind, scope, depth):
        """Arithmetic with boolean masks: a value times a mask, a common factor of two
        masks (`g * m1 + g * m2`, where `m1 + m2` is their `or`), their sum and product,
        np.where, masks as floats, counts and means of masks, boolean indexing."""
        draw, d1 = self.later_masks, depth - 1
        g = self.expr(kind, scope, d1)
        m1, m2 = self.mask(kind, scope, d1), self.mask(kind, scope, d1)
        forms = {"times": f"({g}) * {m1}",
                 "common factor": f"({g}) * {m1} {draw.choice(['+', '-'])} ({g}) * {m2}",
                 "sum of masks": f"({g}) * ({m1} + {m2})",
                 "product of masks": f"({g}) * ({m1} * {m2})",
                 "where": f"np.where({m1}, {g}, {self.expr(kind, scope, d1)})",
                 "as float": f"({g}) * ({m1}){'.astype(float)' if kind != 'S' else ''}",
                 "shifted": f"({g}) * ({m1} - 0.5)"}
        if kind == "S":
            n = self.expr("N", scope, d1)
            mn = self.mask("N", scope, d1)
            forms.update({"count": f"np.sum({mn}) * ({g})", "mean": f"np.mean({mn}) * ({g})",
                          "count_nonzero": f"np.count_nonzero({mn}) * ({g})",
                          "boolean index": f"np.sum(({n})[{mn}])",
                          "masked sum": f"np.sum(({n}) * {mn})"})
        if kind == "S" and "- 0.5" in forms["shifted"]:
            forms["shifted"] = f"({g}) * (float({m1}) - 0.5)"
        form = draw.choice(sorted(forms))
        self.tag(f"masks:{form}")
        return forms[form]

    def everyday_expr(self, kind, scope, depth):
        """Code people write every day that the other features leave out: `.item()`,
        math functions, np.einsum, norms, NumPy scalars, a recursive helper, len,
        copies, reshapes, astype and asarray, a mean subtracted, np.stack."""
        draw, d1 = self.later_everyday, depth - 1
        e = self.expr(kind, scope, d1)
        forms = {"recursion": None}     # made once drawn (recursive)
        if kind == "S":
            n, n2 = self.expr("N", scope, d1), self.expr("N", scope, d1)
            forms.update({
                "item": f"np.asarray({n})[{self.index('N', scope)}].item() * ({e})",
                "math": f"math.exp(0.3 * math.sin({e}))",
                "math sqrt": f"math.sqrt(({e}) ** 2 + 1.0)",
                "einsum": f"np.einsum('i,i->', {n}, {n2})",
                "norm": f"np.linalg.norm({n})",
                "numpy scalar": f"np.float64({e}) * 2.0",
                "len": f"({e}) * len({n})",
                "mean method": f"np.asarray({n}).mean() * ({e})"})
        else:
            forms.update({
                "copy": f"np.array({e}, copy=True)" if kind == "O" else f"({e}).copy()",
                "astype": f"np.asarray({e}).astype(np.float64)",
                "asarray": f"np.asarray({e}, dtype=float)",
                "mean method": f"({e}) - np.asarray({e}).mean()",
                "stack": f"np.stack([{e}, {self.expr(kind, scope, d1)}])[1]"})
            if kind in ("N", "M", "O"):
                forms["reshape"] = f"np.reshape({e}, (-1, 1))[:, 0]"
            if kind == "M":
                forms["einsum"] = f"np.einsum('ij,j->i', {self.expr('MN', scope, d1)}, " \
                                  f"{self.expr('N', scope, d1)})"
            if kind == "N":
                forms["einsum"] = f"np.einsum('ij,i->j', {self.expr('MN', scope, d1)}, " \
                                  f"{self.expr('M', scope, d1)})"
            if kind == "MN":
                forms["einsum"] = f"np.einsum('i,j->ij', {self.expr('M', scope, d1)}, " \
                                  f"{self.expr('N', scope, d1)})"
        form = draw.choice(sorted(forms))
        self.tag(f"everyday:{form}")
        return forms[form] or f"{self.recursive()}({e}, k)"

    def recursive(self):
        """A module-level helper that calls itself k times."""
        if "recursive" not in self.made:
            self.made.add("recursive")
            self.module += ["def smooth(v, n):", "    if n <= 0:", "        return v",
                            "    return 0.5 * smooth(v, n - 1) + 0.25 * np.sin(v)", ""]
        return "smooth"

    def everyday_statement(self, lines, indent, scope):
        """A progress message: print (an f-string, or the value) or a write to a log."""
        draw = self.later_everyday
        names = sorted(v for v, k in scope.lookup_all().items() if k in KINDS)
        v = draw.choice(names) if names else "s"
        if "log" not in self.made:
            self.made.add("log")
            self.module += ["LOG = io.StringIO()", ""]
        form = draw.choice(["f-string", "value", "write"])
        self.tag(f"everyday:print {form}")
        text = {"f-string": f'print(f"{v}: {{np.sum({v}):.3f}}", file=LOG)',
                "value": f"print({v}, file=LOG)",
                "write": f"LOG.write(str(np.shape({v})))"}[form]
        self.emit(lines, indent, text)

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
        if kind != "MCOL":
            options += [(name, ("P",), "P") for name in self.inner_fns]
        if not options:
            return self.unary(self.expr(kind, scope, d1))
        name, sig, ret = self.rng.choice(options)
        if name in self.inner_fns:
            return f"{name}({self.expr(kind, scope, d1)})"
        if ret == "P":
            # polymorphic elementwise helper: arguments broadcast to `kind`
            pairs = [p for p in BROADCAST[kind] if "MCOL" not in p]
            ka, kb = self.rng.choice(pairs)
            arg_kinds = (ka, kb) if len(sig) == 2 else (kind,)
        else:
            arg_kinds = sig
        args = [self.expr(ak, scope, d1) for ak in arg_kinds]
        parts = []
        for j, (pname, a) in enumerate(zip(("a", "b"), args)):
            # a keyword for the second argument, sometimes
            parts.append(f"{pname}={a}" if j > 0 and self.chance(0.4) else a)
        if self.chance(0.5):
            parts.append(f"scale={self.const()}")
        return f"{name}({', '.join(parts)})"

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

    # --- calls from the rule table -------------------------------------------------
    def rule_call(self, kind, scope, depth):
        table = catalog.primitives(kind)
        if not table:
            return self.unary(self.expr(kind, scope, depth - 1))
        name = self.rng.choice(sorted(table))
        entry = self.rng.choice(table[name])
        self.tag(f"rule:{entry.primitive}")
        self.tag(f"rule call ({entry.declared})")
        args = [self.atom(a, scope, depth - 1) for a in entry.atoms]
        text = entry.template.replace("@n", str(self.n)).replace("@m", str(self.m))
        return text.replace("@d", "(d > 0)").format(*args)

    def atom(self, atom, scope, depth):
        """An expression for a catalog atom: a kind and a domain."""
        kind, dom = (atom[:-1], atom[-1]) if atom[-1] in "+~>%" else (atom, "")
        if kind == "SQ":
            e = self.expr("MN", scope, min(depth, 1))
            e = f"(np.eye({self.m}) * 2.0 + ({e}) @ ({e}).T)"
        elif kind == "L":
            e = "[" + ", ".join(self.expr("S", scope, min(depth, 1)) for _ in range(3)) + "]"
            if dom:
                return "[" + ", ".join(self.domain(self.expr("S", scope, min(depth, 1)), dom)
                                       for _ in range(3)) + "]"
        else:
            e = self.expr(kind, scope, depth)
        return self.domain(e, dom)

    @staticmethod
    def domain(e, dom):
        return {"": e, "+": f"(({e}) ** 2 + 0.5)", "~": f"(0.9 * np.tanh({e}))",
                ">": f"(({e}) ** 2 + 1.5)", "%": f"(0.5 + 0.45 * np.tanh({e}))"}[dom]

    # --- builtins over lists -----------------------------------------------------------
    def scalar_list(self, scope, depth):
        lists = [n for n, (ek, _) in scope.all_lists().items() if ek == "S"]
        if lists and self.chance(0.5):
            return self.rng.choice(lists)
        return self.three_scalars(scope, depth)

    def three_scalars(self, scope, depth):
        """A list of three scalars set apart (their order is not a tie)."""
        return (f"[{self.expr('S', scope, depth)}, ({self.expr('S', scope, depth)}) * 0.5 + 1.7, "
                f"-1.9 - ({self.expr('S', scope, depth)}) * 0.5]")

    def builtin(self, kind, scope, depth):
        d1 = max(depth - 1, 0)
        if kind == "N":
            a, b = self.expr("N", scope, d1), self.expr("N", scope, d1)
            name, form = self.rng.choice([
                ("sum", f"sum([{a}, {b}])"), ("map", f"sum(map(np.tanh, [{a}, {b}]))"),
                ("reversed", f"list(reversed([{a}, {b}]))[0]"), ("abs", f"abs({a})"),
                ("zip", f"np.array([p * q for p, q in zip({a}, {b})])"),
                ("enumerate", f"np.array([v * i for i, v in enumerate({a})])"),
                ("len", f"({a}) * len({b})")])
            self.tag(f"builtin:{name}")
            return form
        lst, lst2 = self.scalar_list(scope, d1), self.scalar_list(scope, d1)
        a, b = self.expr("S", scope, d1), self.expr("S", scope, d1)
        i = self.rng.choice(["0", "1", "-1"])
        name, form = self.rng.choice([
            ("sorted", f"sorted({lst})[{i}]"), ("sorted", f"sorted({lst}, reverse=True)[{i}]"),
            ("sorted", f"sorted({lst}, key=abs)[{i}]"),
            ("sorted", f"sorted({lst}, key=lambda t: -t)[{i}]"),
            ("min", f"min({lst})"), ("max", f"max({lst})"), ("min", f"min({a}, {b})"),
            ("max", f"max({a}, {b})"), ("max", f"max({lst}, key=abs)"), ("sum", f"sum({lst})"),
            ("sum", f"sum({lst}, {a})"), ("abs", f"abs({a})"),
            ("reversed", f"list(reversed({lst}))[{i}]"), ("round", f"round({a}, 2)"),
            ("round", f"round({a}) * ({b})"), ("map", f"sum(map(np.tanh, {lst}))"),
            ("map", f"list(map(lambda t: t * t, {lst}))[{i}]"),
            ("zip", f"sum(p * q for p, q in zip({lst}, {lst2}))"),
            ("enumerate", f"sum(i * v for i, v in enumerate({lst}))"),
            ("len", f"len({lst}) * ({a})"),
            ("any", f"(({a}) if any(v > 0.5 for v in {lst}) else ({b}))"),
            ("all", f"(({a}) if all(v > -0.5 for v in {lst}) else ({b}))")])
        self.tag(f"builtin:{name}")
        return form

    # --- transforms called inside f ------------------------------------------------
    def make_transforms(self):
        self.nested = True
        body = self.rng.choice(["np.sum(np.sin(a) * b) + b ** 2", "np.sum(np.tanh(a * b) ** 2)",
                                "np.sum(a * a) * b + np.cos(b)",
                                "np.log(1.0 + np.sum(a ** 2)) * b"])
        self.module += ["def tf(a, b):", f"    return {body}", "",
                        "def tfs(b):", f"    return {self.rng.choice(['np.sin(b) * b', 'b ** 3 - b', 'np.tanh(b) * 2.0'])}",
                        "", "def tfv(a):", "    return np.tanh(a) * 2.0 + a[::-1]", ""]
        forms = [  # (transform, made as, called as (a: N, b: S, v: N direction), result kind)
            ("grad", "srcad.grad(tf)", "{t}({a}, {b})", "N"),
            ("grad", "srcad.grad(tf, wrt=1)", "{t}({a}, {b})", "S"),
            ("grad", "srcad.grad(tf, wrt=(0, 1))", "{t}({a}, {b})[0]", "N"),
            ("grad", "srcad.grad(tf, wrt=(0, 1))", "{t}({a}, {b})[1]", "S"),
            ("grad", "srcad.grad(tf, wrt=('b',))", "{t}({a}, {b})[0]", "S"),
            ("grad", "srcad.grad(tfs, wrt=(0,))", "{t}({b})[0]", "S"),
            ("grad", "srcad.grad(tfs)", "{t}({b})", "S"),
            ("value_and_grad", "srcad.value_and_grad(tf)", "{t}({a}, {b})[0]", "S"),
            ("value_and_grad", "srcad.value_and_grad(tf)", "{t}({a}, {b})[1]", "N"),
            ("jvp", "srcad.jvp(tf, wrt=1)", "{t}({a}, {b}, 1.0)[1]", "S"),
            ("jvp", "srcad.jvp(tf)", "{t}({a}, {b}, {v})[1]", "S"),
            ("jvp", "srcad.jvp(tfv)", "{t}({a}, {v})[1]", "N"),
            ("vjp", "srcad.vjp(tf)", "{t}({a}, {b})[1](1.0)", "N"),
            ("vjp", "srcad.vjp(tfv)", "{t}({a})[1]({v})", "N"),
            ("hessian", "srcad.hessian(tf)", "{t}({a}, {b}) @ ({v})", "N"),
            ("hessian", "srcad.hessian(tfs)", "{t}({b})", "S"),
            ("hvp", "srcad.hvp(tf)", "{t}({a}, {b}, {v})", "N"),
            ("jacobian", "srcad.jacobian(tfv)", "{t}({a}) @ ({v})", "N"),
            ("jacobian", "srcad.jacobian(tfv, mode='forward')", "{t}({a}) @ ({v})", "N"),
        ]
        for transform, made, called, kind in self.rng.sample(forms, self.rng.randint(1, 3)):
            if (made, called) in WHOLE_TUPLES and self.later_tuples.random() < 0.5:
                transform, (made, called) = "grad tuple", WHOLE_TUPLES[made, called]
            if self.chance(0.7):
                name = self.fresh(f"{transform.split('_')[0][0]}_")
                self.module.append(f"{name} = {made}")
                self.transforms.append((called.replace("{t}", name), kind,
                                        f"transform:{transform} (module level)"))
            else:
                self.transforms.append((called.replace("{t}", made), kind,
                                        f"transform:{transform} (inline)"))
        self.module.append("")

    def transform_call(self, kind, scope, depth):
        called, _, construct = self.rng.choice([t for t in self.transforms if t[1] == kind])
        self.tag(construct)
        d1 = depth - 1
        return called.format(a=self.expr("N", scope, d1), b=self.expr("S", scope, d1),
                             v=self.expr("N", scope, d1))

    # --- custom rules ----------------------------------------------------------------
    def make_custom_rule(self):
        body, adjoint, tangent = self.rng.choice([
            ("a * a", "d[result] * 2.0 * a", "d[a] * 2.0 * a"),
            ("np.sin(a) * 2.0", "d[result] * 2.0 * np.cos(a)", "d[a] * 2.0 * np.cos(a)"),
            ("a ** 3", "d[result] * 3.0 * a ** 2", "d[a] * 3.0 * a ** 2"),
            ("np.exp(-a * a)", "d[result] * -2.0 * a * result", "d[a] * -2.0 * a * result")])
        name = "mysq"
        lines = [f"def {name}(a):", f"    return {body}", ""]
        if self.chance(0.5):
            lines.insert(0, "from srcad.rules.templates import d\n")
        form = self.rng.choice(["well-formed"] * 5 + ["returns", "pass", "other parameter",
                                                      "assigns a name", "expression",
                                                      "assigns d[result]"])
        self.tag(f"custom_rule:{form}")
        rule = {"well-formed": [f"    d[a] = {adjoint}"],
                "returns": [f"    return {adjoint}"],
                "pass": ["    pass"],
                "other parameter": [f"    d[z] = {adjoint.replace(' a', ' z')}"],
                "assigns a name": [f"    g = {adjoint}"],
                "expression": [f"    d[a] == {adjoint}"],
                "assigns d[result]": [f"    d[result] = {adjoint}"]}[form]
        params = "result, z" if form == "other parameter" else "result, a"
        lines += [f"@srcad.adjoint({name})", f"def {name}_adjoint({params}):"] + rule + [""]
        if self.chance(0.6):
            self.tag("custom_rule:tangent")
            lines += [f"@srcad.tangent({name})", f"def {name}_tangent(result, a):",
                      f"    d[result] = {tangent}", ""]
        self.module += lines
        self.customs.append(name)

    # --- module-level state ----------------------------------------------------------
    def make_state(self):
        self.globals["SCALE"] = "S"
        self.module.append(f"SCALE = {self.const()}")
        if self.chance(0.6):
            values = ", ".join(self.const() for _ in range(self.n))
            self.globals["OFFSET"] = "N"
            self.module.append(f"OFFSET = np.array([{values}])")
        self.module.append("")
        if "notebook" in self.features or self.chance(0.3):
            self.tag("state:rebound between rounds")
            cell = [f"SCALE = {self.const()}"]
            if "OFFSET" in self.globals:
                cell.append(self.rng.choice(["OFFSET = OFFSET * 2.0", "OFFSET[0] = 2.5"]))
            self.cells.append("\n".join(cell) + "\n")

    # --- helpers -----------------------------------------------------------------
    def make_helpers(self):
        count = self.rng.choice([0, 1, 1, 2])
        if "notebook" in self.features:
            count = max(count, 1)
        for j in range(count):
            name = f"helper{j}"
            style = self.rng.choice(["elementwise", "elementwise", "loop", "branch", "reduce"])
            src, sig, ret = self.helper(name, style)
            self.helpers.append((name, sig, ret))
            self.helper_src.append(src)
        if "notebook" in self.features and self.helpers:
            name, sig, ret = self.helpers[0]
            style = "reduce" if sig == ("N", "N") else self.rng.choice(["elementwise", "loop"])
            self.tag("notebook:helper redefined")
            self.cells.append(self.helper(name, style)[0] + "\n")

    def helper(self, name, style):
        """(source, argument kinds, result kind) of a module-level helper."""
        lines = []
        scale = "SCALE" if "SCALE" in self.globals and self.chance(0.5) else None
        if scale:
            self.tag("state:default bound to a global")
        if style == "reduce":
            lines.append(f"def {name}(a, b, scale={scale or 1.0}):")
            lines.append(f"    t = {self.poly_expr(2)}")
            lines.append("    return np.sum(t * a) * scale + np.sum(b)")
            return "\n".join(lines), ("N", "N"), "S"
        lines.append(f"def {name}(a, b, scale={scale or 0.5}, steps=2, on=True):")
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
        return "\n".join(lines), ("P", "P"), "P"

    def poly_expr(self, depth, extra=()):
        """An elementwise expression of the helper parameters a, b (any broadcast kinds)."""
        leaves = ["a", "b", "scale"] + list(extra)
        if depth <= 0 or self.chance(0.2):
            return self.rng.choice(leaves)
        if self.chance(0.5):
            return self.unary(self.poly_expr(depth - 1, extra))
        op = self.rng.choice(["+", "-", "*"])
        return f"({self.poly_expr(depth - 1, extra)}) {op} ({self.poly_expr(depth - 1, extra)})"

    # --- objects, pytrees and functions as values -------------------------------------
    def make_objects(self):
        scale = self.const()
        self.module += [
            "class Model:", "    def __init__(self, scale):", "        self.scale = scale",
            f"        self.A = np.linspace(-1.0, 1.0, {self.n})", "",
            "    def predict(self, v):", "        return np.tanh(v * self.scale) + self.A * 0.1",
            "", "    def energy(self, v):", "        return np.sum(self.predict(v) ** 2)", "",
            "    @staticmethod", "    def square(v):", "        return v * v", "",
            "    @classmethod", "    def double(cls, v):", "        return 2.0 * v", "",
            f"MODEL = Model({scale})", "",
            "class Pair(typing.NamedTuple):", "    w: np.ndarray", "    b: float", "",
            "@dataclasses.dataclass", "class Params:", "    w: np.ndarray", "    b: float", "",
            "def apply_twice(fn, v):", "    return fn(fn(v))", ""]

    def object_expr(self, kind, scope, depth):
        d1 = depth - 1
        n, sc = self.expr("N", scope, d1), self.expr("S", scope, d1)
        if kind == "N":
            fn = self.rng.choice(["np.tanh", "lambda t: t * 0.5 + 1.0",
                                  "functools.partial(np.multiply, 0.5)", "Model.square"])
            name, form = self.rng.choice([
                ("method", f"MODEL.predict({n})"), ("staticmethod", f"Model.square({n})"),
                ("classmethod", f"MODEL.double({n})"),
                ("function value", f"apply_twice({fn}, {n})"),
                ("namedtuple", f"Pair({n}, {sc}).w * Pair(w={n}, b={sc}).b"),
                ("dataclass", f"Params(w={n}, b={sc}).w + Params({n}, {sc}).b")])
        else:
            name, form = self.rng.choice([
                ("method", f"MODEL.energy({n})"), ("class method call", f"Model.energy(MODEL, {n})"),
                ("attribute", f"MODEL.scale * ({sc})"),
                ("dict items", f"sum(v * 2.0 for _, v in {{'a': {sc}, 'b': {sc}}}.items())"),
                ("dict values", f"sum(np.sum(v) for v in {{'a': {n}, 'b': {sc}}}.values())"),
                ("dataclass", f"np.sum(Params(w={n}, b={sc}).w) * Params({n}, {sc}).b")])
        self.tag(f"object:{name}")
        return form

    # --- nested helpers ----------------------------------------------------------------
    def make_nested(self, lines, scope):
        forms = ["closure", "closure", "two levels", "lambda", "nonlocal", "default"]
        for form in self.rng.sample(forms, self.rng.randint(1, 2)):
            name = self.fresh("inner")
            self.tag(f"nested:{form}")
            if form == "closure":
                free = self.rng.choice(["s", "z0"])
                if free == "z0" and "z0" not in scope.vars:
                    lines.append(f"    z0 = {self.expr('S', scope, 1)}")
                    scope.vars["z0"] = "S"
                free = free if free == "s" or "z0" in scope.vars else "s"
                lines += [f"    def {name}(u, scale=0.5):",
                          f"        return np.tanh(u) * scale + u * {free}"]
            elif form == "two levels":
                lines += [f"    def {name}(u):",
                          "        def deeper(t):",
                          "            return np.sin(t) * s",
                          "        return deeper(u) * 2.0 + u"]
            elif form == "lambda":
                lines.append(f"    {name} = lambda u: u * u * 0.5 + np.cos(u)")
            elif form == "nonlocal":
                lines += ["    calls = 0",
                          f"    def {name}(u):",
                          "        nonlocal calls",
                          "        calls += 1",
                          "        return u * 1.5 + np.tanh(u)"]
            else:
                lines += [f"    def {name}(u, c=s * 2.0):", "        return u * c + np.sin(u)"]
            self.inner_fns.append(name)

    # --- statements ----------------------------------------------------------------
    def emit(self, lines, indent, text):
        lines.append("    " * indent + text)

    def assignable(self, scope, kinds=KINDS):
        return [(v, k) for v, k in scope.lookup_all().items()
                if k in kinds and v not in ("d",)]

    def statement(self, lines, indent, scope, budget, depth):
        """Emit one (possibly compound) statement; returns statements used."""
        if "effects" in self.features and self.later.random() < 0.25:
            self.effect(lines, indent, scope)
        if "everyday" in self.features and self.later_everyday.random() < 0.1:
            self.everyday_statement(lines, indent, scope)
        weights = {
            "new": 6, "reassign": 5, "aug": 4, "buffer": 2, "write": 4, "alias": 1.5,
            "for": 2.5 if depth < 2 else 0, "while": 1 if depth < 2 else 0,
            "if": 2 if depth < 3 else 0, "tuple": 1, "list": 1.5 if depth < 2 else 0,
            "argwrite": 0.5, "view": 1.5,
            "slist": 2 if "builtins" in self.features else 0,
            "exotic": 2 if "exotic" in self.features and depth < 2 else 0,
        }
        kind = self.rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind in ("reassign", "aug") and not self.assignable(scope):
            kind = "new"
        self.tag(f"statement:{kind}")
        if kind == "new":
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
                targets = [("x", "N"), ("y", "N"), ("W", "MN")]
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
        if kind == "slist":
            return self.scalar_list_statement(lines, indent, scope)
        if kind == "exotic":
            return self.exotic_statement(lines, indent, scope, budget, depth)
        raise AssertionError(kind)

    def scalar_list_statement(self, lines, indent, scope):
        """A list of three scalars, maybe sorted, reversed or mapped into another."""
        lst = self.fresh("L")
        self.emit(lines, indent, f"{lst} = {self.three_scalars(scope, 1)}")
        scope.lists[lst] = ("S", 3)
        if self.chance(0.6):
            new = self.fresh("L")
            name, form = self.rng.choice([
                ("sorted", f"sorted({lst})"), ("sorted", f"sorted({lst}, reverse=True)"),
                ("sorted", f"sorted({lst}, key=abs)"), ("reversed", f"list(reversed({lst}))"),
                ("map", f"list(map(np.sin, {lst}))"), ("abs", f"[abs(v) for v in {lst}]"),
                ("zip", f"[p * q for p, q in zip({lst}, {lst}[::-1])]")])
            self.tag(f"builtin:{name}")
            self.emit(lines, indent, f"{new} = {form}")
            scope.lists[new] = ("S", 3)
        if self.chance(0.3):
            acc = self.fresh("acc")
            self.tag("builtin:enumerate")
            self.emit(lines, indent, f"{acc} = 0.0")
            self.emit(lines, indent, f"for i, v in enumerate({lst}):")
            self.emit(lines, indent + 1, f"{acc} = {acc} + v * (i + 1)")
            scope.vars[acc] = "S"
        return 2

    def exotic_statement(self, lines, indent, scope, budget, depth):
        """A statement wider than what srcad supports."""
        form = self.rng.choice(["try", "with", "lambda", "walrus", "global", "assert", "match",
                                "del", "starred", "for-else", "async def", "dict", "chained"])
        self.tag(f"exotic:{form}")
        v = self.fresh()
        e = self.expr("S", scope, 1)
        if form == "try":
            self.emit(lines, indent, "try:")
            self.emit(lines, indent + 1, f"{v} = {e}")
            self.emit(lines, indent, "except ZeroDivisionError:")
            self.emit(lines, indent + 1, f"{v} = 0.0")
        elif form == "with":
            self.emit(lines, indent, 'with np.errstate(all="ignore"):')
            self.emit(lines, indent + 1, f"{v} = {e}")
        elif form == "lambda":
            self.emit(lines, indent, f"{v} = (lambda t: t * 2.0 + 1.0)({e})")
        elif form == "walrus":
            self.emit(lines, indent, f"if ({v} := {e}) > {self.const()}:")
            self.emit(lines, indent + 1, f"{v} = {v} * 2.0")
        elif form == "global":
            self.module.append("LAST = 0.0")
            self.emit(lines, indent, "global LAST")
            self.emit(lines, indent, f"LAST = {e}")
            self.emit(lines, indent, f"{v} = {self.expr('S', scope, 1)}")
        elif form == "assert":
            self.emit(lines, indent, f"{v} = {e}")
            self.emit(lines, indent, f"assert np.isfinite({v}), 'not finite'")
        elif form == "match":
            self.emit(lines, indent, "match k:")
            self.emit(lines, indent + 1, "case 1:")
            self.emit(lines, indent + 2, f"{v} = {e}")
            self.emit(lines, indent + 1, "case _:")
            self.emit(lines, indent + 2, f"{v} = {self.expr('S', scope, 1)}")
        elif form == "del":
            tmp = self.fresh("tmp")
            self.emit(lines, indent, f"{tmp} = {e}")
            self.emit(lines, indent, f"{v} = {tmp} * 2.0")
            self.emit(lines, indent, f"del {tmp}")
        elif form == "starred":
            rest = self.fresh("rest")
            self.emit(lines, indent, f"{v}, *{rest} = [{e}, {self.expr('S', scope, 1)}, 1.0]")
        elif form == "for-else":
            self.emit(lines, indent, f"{v} = {e}")
            self.emit(lines, indent, "for i in range(k):")
            self.emit(lines, indent + 1, f"{v} = {v} * 0.9")
            self.emit(lines, indent, "else:")
            self.emit(lines, indent + 1, f"{v} = {v} + 1.0")
        elif form == "async def":
            self.emit(lines, indent, "async def later():")
            self.emit(lines, indent + 1, "return 1.0")
            self.emit(lines, indent, f"{v} = {e}")
        elif form == "dict":
            self.emit(lines, indent, f'{v} = {{"a": {e}, "b": 1.0}}["a"]')
        else:
            self.emit(lines, indent, f"{v} = {e}")
            self.emit(lines, indent, f"if -0.5 < {v} < 0.5:")
            self.emit(lines, indent + 1, f"{v} = {v} * 2.0")
        scope.vars[v] = "S"
        return 1

    def exotic_expr(self, scope, depth):
        d1 = depth - 1
        form = self.rng.choice(["float", "np.float64", "int", "generator", "shape", "conditional"])
        self.tag(f"exotic:{form}")
        e = self.expr("S", scope, d1)
        return {"float": f"float({e})", "np.float64": f"np.float64({e})",
                "int": f"int(k) * ({e})", "generator": f"sum(t * t for t in {self.expr('N', scope, d1)})",
                "shape": f"x.shape[0] * ({e})",
                "conditional": f"({e} if {e} > 0 else -({e}))"}[form]

    def effect(self, lines, indent, scope):
        """A call made for its effect on an array, in place: on an argument, a buffer or
        an alias, before or after reads of it (drawn from the later features' stream)."""
        targets = sorted(self.assignable(scope, ARRAY_KINDS))
        if not targets:
            return
        name, k = self.later.choice(targets)
        others = [v for v, kv in targets if kv == k and v != name] + ["0.5"]
        forms = [f"{name}.sort()", f"{name}.fill({self.later.choice([0.5, -1.0])})",
                 f"np.copyto({name}, {self.later.choice(others)})",
                 f"np.clip({name}, -1.0, 1.0, out={name})", f"{name}[::-1].sort()"]
        self.tag("statement:effect")
        self.emit(lines, indent, self.later.choice(forms))

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
        lines = list(self.prologue)
        scope = Scope()
        scope.vars.update({"x": "N", "y": "N", "W": "MN", "s": "S", "d": "N"})
        if "nested" in self.features:
            self.make_nested(lines, scope)
        budget = self.rng.randint(5, 20)
        used = 0
        while used < budget:
            used += self.statement(lines, 1, scope, budget - used, 0)
        # the output: a scalar mostly, sometimes a vector or a tuple
        live = [v for v, k in scope.vars.items() if v not in PARAMS]
        live = live[-6:] or ["x"]
        picks = self.rng.sample(live, min(len(live), self.rng.randint(1, 4)))
        terms = []
        for v in picks:
            terms.append(self.rng.choice([f"np.sum({v} ** 2)", f"np.sum(np.sin({v}))",
                                          f"np.sum({v})", f"np.mean({v} * {v})"]))
        lists = [name for name, (ek, _) in scope.lists.items() if ek == "S"]
        if lists:       # a list of scalars read at the end too
            terms.append(f"np.sum(np.array({self.rng.choice(lists)}) ** 2)")
        scalar = " + ".join(terms)
        form = self.rng.choices(["scalar", "vector", "tuple"], weights=[7, 2, 1])[0]
        if "no_return" in self.features:
            form = "none"
            ending = self.rng.choice(["", "return", "return None", f"result = {scalar}"])
            if ending:
                lines.append(f"    {ending}")
        elif form == "scalar":
            lines.append(f"    return {scalar}")
        elif form == "vector":
            listed = f" + {terms[-1]}" if lists else ""
            lines.append(f"    return {self.expr('N', scope, 2)}{listed}")
        else:
            lines.append(f"    return {scalar}, {self.expr('N', scope, 1)}")
        self.output = form
        self.tag(f"output:{form}")
        return lines

    # --- aliases and decorators --------------------------------------------------------
    def alias(self, body, header):
        """Rewrite some of f's NumPy calls through an alias; returns the new body."""
        form = self.rng.choice(["local module", "global module", "import as", "from import as",
                                "local function", "global function", "getattr", "linalg"])
        used = sorted(set(re.findall(r"\bnp\.([a-z_0-9]+)\(", "\n".join(body))))
        if form in ("from import as", "local function", "global function", "getattr") and not used:
            form = "local module"
        self.tag(f"alias:{form}")
        if form in ("local module", "global module", "import as"):
            name = self.rng.choice(["xp", "numpy_", "N_"])
            if form == "local module":
                body.insert(0, f"    {name} = np")
            elif form == "global module":
                header.append(f"{name} = np")
            else:
                header.append(f"import numpy as {name}")
            return [re.sub(r"\bnp\.", f"{name}.", line) if self.chance(0.7) else line
                    for line in body]
        if form == "linalg":
            header.append("import numpy.linalg as la")
            body.insert(0, f"    nrm = la.norm({self.rng.choice(['x', 'y', 'W'])})")
            body.insert(1, "    s = s * (1.0 + 0.1 * nrm)")
            return body
        fn = self.rng.choice(used)
        short = f"{fn[:2]}_"
        if form == "from import as":
            header.append(f"from numpy import {fn} as {short}")
        elif form == "global function":
            header.append(f"{short} = np.{fn}")
        elif form == "getattr":
            body.insert(0, f'    {short} = getattr(np, "{fn}")')
        else:
            body.insert(0, f"    {short} = np.{fn}")
        start = 1 if form in ("getattr", "local function") else 0
        return body[:start] + [re.sub(rf"\bnp\.{fn}\(", f"{short}(", line)
                               for line in body[start:]]

    def decorator(self, target):
        """Decorator source and the line that applies it."""
        form = self.rng.choice(["wraps", "wraps scaled", "wraps first argument", "no wraps",
                                "factory", "explicit signature"])
        if target == "f" and self.output in ("tuple", "none"):
            form = "wraps"
        if target != "f" and form == "explicit signature":
            form = "wraps scaled"
        self.tag(f"decorator:{form} on {'f' if target == 'f' else 'a helper'}")
        c = self.rng.choice(["2.0", "0.5", "-1.5"])
        if form == "no wraps":
            self.named = self.named and target != "f"
            return ["def logged(fn):", "    def wrapper(*args, **kwargs):",
                    f"        return fn(*args, **kwargs) * {c}", "    return wrapper"], "@logged"
        if form == "factory":
            return ["def scaled_by(c):", "    def deco(fn):", "        @functools.wraps(fn)",
                    "        def wrapper(*args, **kwargs):",
                    "            return c * fn(*args, **kwargs)", "        return wrapper",
                    "    return deco"], f"@scaled_by({c})"
        inner = {"wraps": ("*args, **kwargs", "fn(*args, **kwargs)"),
                 "wraps scaled": ("*args, **kwargs", f"{c} * fn(*args, **kwargs)"),
                 "wraps first argument": ("first, *rest, **kwargs",
                                          "fn(first * 1.5, *rest, **kwargs)"),
                 "explicit signature": ("x, y, W, s, d, k, flag",
                                        f"fn(x, y, W, s, d, k, flag) * {c} + 1.0")}[form]
        return ["def wrapped(fn):", "    @functools.wraps(fn)", f"    def wrapper({inner[0]}):",
                f"        return {inner[1]}", "    return wrapper"], "@wrapped"

    # --- input kinds ----------------------------------------------------------------
    def choose_inputs(self):
        for param in self.rng.sample(list(INPUT_KINDS), self.rng.randint(1, 2)):
            kind = self.rng.choice(INPUT_KINDS[param][1:])
            self.inputs[param] = kind
            self.tag(f"input:{param} {kind}")
            if kind == "matrix":
                self.m = self.n       # W * W and W * W.T are products of square matrices
            if kind in ("list", "tuple"):
                self.prologue.append(self.rng.choice(
                    ["    x = np.asarray(x)", "    x = np.array(x)",
                     "    x = np.array(x, dtype=float)"]))

    # --- the module ---------------------------------------------------------------------
    def generate(self):
        if "inputs" in self.features:
            self.choose_inputs()
        if "state" in self.features:
            self.make_state()
        if "custom_rule" in self.features:
            self.make_custom_rule()
        if "transform" in self.features:
            self.make_transforms()
        if "objects" in self.features:
            self.make_objects()
        self.make_helpers()
        body = self.body()
        header = []
        if "alias" in self.features:
            body = self.alias(body, header)
        src = ["import numpy as np"] + header + [""] + self.module
        decorated = "decorator" in self.features
        on_f = decorated and (not self.helpers or self.chance(0.6))
        for h in self.helper_src:
            if decorated and not on_f:
                deco, line = self.decorator("helper")
                src += deco + ["", line]
                decorated = False
            src += [h, ""]
        if on_f:
            deco, line = self.decorator("f")
            src += deco + ["", line]
        src.append("def f(x, y, W, s, d, k, flag):")
        src += body
        text = "\n".join(src) + "\n"
        imports = [f"import {m}" for m in ("dataclasses", "functools", "io", "math", "operator",
                                            "scipy.special", "scipy.stats", "srcad", "typing")
                   if re.search(rf"\b{re.escape(m)}\.", text + "".join(self.cells))
                   and f"import {m}" not in text]
        return Program(seed=self.seed, source="\n".join(imports + [text]) if imports else text,
                       n=self.n, m=self.m, k=self.k, output=self.output, inputs=dict(self.inputs),
                       cells=list(self.cells), constructs=set(self.constructs),
                       named=self.named, nested=self.nested)


def generate(seed, focus=()):
    """The program of a seed; with focus (feature names), only those features, always."""
    known = set(FEATURES) | set(LATER_FEATURES)
    unknown = set(focus) - known
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}: choose from {sorted(known)}")
    return ProgramGenerator(seed, focus).generate()
