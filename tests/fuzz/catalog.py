"""Calls drawn from srcad's whole rule table.

Every primitive in ``srcad.rules`` (ADJOINTS, TANGENTS and NONDIFFERENTIABLE:
those declared to have no derivative included) becomes one or more call
templates. Which arguments a primitive takes is not written down anywhere, so
it is *probed*: each candidate form (``F(a)``, ``F(a, b)``, ``F(a, axis=0)``,
``F(a, 2)``, ``F(d > 0, a, b)``, ``F(a, b, size=n)``, ...) is run on concrete
values of every argument kind and domain, at two sizes, and kept when it
returns finite real numbers whose shape is one of the generator's kinds at
both sizes. A complex result is read through ``np.real``, a tuple through an
index, a result of another shape through ``np.sum``.

A template is a format string over argument expressions (``{0}``, ``{1}``)
and the sizes ``@n``, ``@m``; its atoms are a kind (S scalar, N shape (n,),
M shape (m,), MN shape (m, n), SQ a symmetric positive definite (m, m), L a
list of three scalars; ``@d`` stands for the data mask ``d > 0``) and a domain (``+``
positive, ``~`` inside (-0.9, 0.9), ``>`` above 1, none for any value).
"""
import builtins
import hashlib
import json
import math
import operator
import os
import sys
import tempfile
import warnings
from dataclasses import astuple, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

import srcad
import srcad.rules as rules
import srcad.runtime

NAMESPACES = [("operator", operator), ("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft),
              ("np.random", np.random), ("math", math), ("builtins", builtins),
              ("srcad.runtime", srcad.runtime)]
try:
    import scipy.special
    import scipy.stats
    NAMESPACES += [("scipy.special", scipy.special), ("scipy.stats.norm", scipy.stats.norm)]
except ImportError:      # pragma: no cover - SciPy is optional
    pass

# callables never called from a program: they print, read input or stop the process,
# or return whatever memory held (np.empty), so that no two runs agree; or their
# derivative is zero by decree (stop_gradient), which no difference sees
SKIP = {"print", "input", "exit", "quit", "help", "breakpoint", "open", "eval", "exec",
        "compile", "delattr", "setattr", "globals", "locals", "vars", "dir", "memoryview",
        "empty", "empty_like", "stop_gradient"}
# rules added after the kept regression seeds (tests/test_fuzz.py) were drawn: a longer
# table draws other calls for those seeds. Generated code calls these helpers, which
# the fuzzed programs' gradients exercise; tests/test_rules_shape.py has their cases.
LATER = {"srcad.runtime.part_of"}


@dataclass(frozen=True)
class Entry:
    primitive: str      # the table's name: "np.linalg.det", "x.sum()", "builtins.sorted"
    template: str       # "np.sum(np.linalg.det({0}))"
    atoms: tuple        # argument atoms: ("SQ",), ("N+", "S")
    result: str         # kind of the call's value: S, N, M, MN or O
    declared: str       # "rule", "zero" (declared without a derivative) or "forward-only"


def spelled(prefix, attr):
    """How a program writes the primitive: builtins bare, others qualified."""
    return attr if prefix == "builtins" else f"{prefix}.{attr}"


def table_names():
    """{spelling: declared} for every primitive of the rule table, by its public names."""
    known = set(rules.ADJOINTS) | set(rules.TANGENTS) | set(rules.NONDIFFERENTIABLE)
    out = {}
    for prefix, module in NAMESPACES:
        for attr in sorted(dir(module)):
            if attr.startswith("_") or attr in SKIP:
                continue
            try:
                obj = getattr(module, attr)
                hash(obj)
            except Exception:       # noqa: BLE001 - deprecated or unhashable attributes
                continue
            if obj in known and spelled(prefix, attr) not in LATER:
                out[spelled(prefix, attr)] = _declared(obj)
    try:
        from srcad.rules.numpy import ATTRIBUTES, METHODS
    except ImportError:     # pragma: no cover - the method tables moved
        ATTRIBUTES, METHODS = {}, {}
    for name, fn in sorted(METHODS.items()):
        out[f"x.{name}()"] = _declared(fn)
    for name, fn in sorted(ATTRIBUTES.items()):
        out[f"x.{name}"] = _declared(fn)
    for key in known:
        if isinstance(key, str) and key.startswith("ndarray."):
            out[f"x.{key.split('.', 1)[1]}()"] = _declared(key)
    return out


def _declared(primitive):
    if primitive in rules.NONDIFFERENTIABLE:
        return "zero"
    if primitive in rules.ADJOINTS:
        return "rule"
    return "forward-only"


# --- candidate forms ---------------------------------------------------------------
# A form is (template, kinds, domain choices); the first choice of domains that
# the primitive accepts is kept.

ONE = [("",), ("+",), ("~",), (">",), ("%",)]
TWO = [("", ""), ("+", ""), ("", "+"), ("+", "+"), ("~", ""), ("%", ""), (">", "+")]
THREE = [("", "", ""), ("+", "+", "+"), ("~", "~", "~")]
PAIRS = [("S", "S"), ("N", "N"), ("N", "S"), ("S", "N"), ("MN", "N"), ("MN", "MN"),
         ("SQ", "SQ"), ("SQ", "M"), ("M", "MN"), ("N", "MN")]
# forms of primitives whose arguments none of the generic forms fit
SPECIAL = {
    "np.reshape": [("{f}({0}, -1)", ("MN",))], "np.swapaxes": [("{f}({0}, 0, 1)", ("MN",))],
    "np.moveaxis": [("{f}({0}, 0, 1)", ("MN",))],
    "np.einsum": [("{f}('ij->j', {0})", ("MN",)), ("{f}('ij,j->i', {0}, {1})", ("MN", "N")),
                  ("{f}('i,i->', {0}, {1})", ("N", "N"))],
    "np.cross": [("{f}(({0})[:3], ({1})[:3])", ("N", "N"))],
    "np.split": [("{f}({0}, [1])", ("N",)), ("{f}({0}, [1], axis=1)", ("MN",))],
    "np.hsplit": [("{f}({0}, [1])", ("MN",))], "np.vsplit": [("{f}({0}, [1])", ("MN",))],
    "np.take_along_axis": [("{f}({0}, np.argsort({0}), axis=0)", ("N",))],
    "x.swapaxes()": [("({0}).swapaxes(0, 1)", ("MN",))],
}


def candidates(name):
    """(template, kinds, domain choices) forms to try for the primitive spelled `name`."""
    if name.startswith("x."):        # a method or an attribute of an array
        attr = name[2:]
        call, attr = attr.endswith("()"), attr.removesuffix("()")
        forms = [("({0})." + attr, (k,), ONE) for k in ("N", "MN", "SQ")] if not call else [
            (f"({{0}}).{attr}{tail}", (k,), ONE) for k in ("N", "MN", "SQ")
            for tail in ("()", "(0)", "(-1)", "(np.float64)", "(-0.5, 0.5)", "(2)")]
        if call:
            forms += [(f"({{0}}).{attr}({{1}})", (k, k), TWO) for k in ("N", "MN", "SQ")]
        return [(t, k, d) for t, k, d in forms] + [
            (t, k, ONE[:1] if len(k) == 1 else TWO[:1]) for t, k in SPECIAL.get(name, [])]
    forms = [(t.replace("{f}", name), k, ONE[:1] if len(k) <= 1 else
              [("",) * len(k)]) for t, k in SPECIAL.get(name, [])]
    forms += [("{f}({0})", (k,), ONE) for k in ("S", "N", "MN", "SQ", "L")]
    forms += [(f"{{f}}({{0}}, axis={a})", (k,), ONE) for k in ("N", "MN") for a in (0, -1)]
    forms += [(t, (k,), ONE) for k in ("N", "MN", "SQ", "S")
              for t in ("{f}({0}, 2)", "{f}(2, {0})")]
    forms += [("{f}({0}, {1})", pair, TWO) for pair in PAIRS]
    forms += [("{f}({0}, {1}, {2})", (k, k, k), THREE) for k in ("N", "S")]
    forms += [("{f}({0}, -0.5, 0.5)", (k,), ONE) for k in ("N", "S")]
    forms += [("{f}({0}, {1}, @n)", ("S", "S"), TWO[:1]),
              ("{f}({0}, {1}, size=@n)", ("S", "S"), [("", "+")]),
              ("{f}(@n, {0})", ("S",), ONE[:1]), ("{f}((@m, @n), {0})", ("S",), ONE[:1]),
              ("{f}(@n)", (), [()]), ("{f}((@m, @n))", (), [()]), ("{f}(@m, @n)", (), [()]),
              ("{f}(@d, {0}, {1})", ("N", "N"), TWO[:1]), ("{f}(@d, {0}, {1})", ("N", "S"), TWO[:1])]
    return [(t.replace("{f}", name), k, d) for t, k, d in forms]


def _passes_out(name, atoms):
    """Whether a form would pass an ufunc's output array positionally (np.sin(a, b))."""
    fn = _resolve(name)
    return isinstance(fn, np.ufunc) and len(atoms) > fn.nin


def _resolve(name):
    prefix, _, attr = name.rpartition(".")
    for p, module in NAMESPACES:
        if p == (prefix or "builtins"):
            return getattr(module, attr, None)
    return None


# --- probing -----------------------------------------------------------------------

def probe_value(atom, n, m, rng):
    kind, dom = (atom[:-1], atom[-1]) if atom[-1] in "+~>%" else (atom, "")
    if kind == "D":
        return np.arange(n) % 2 == 0
    shape = {"S": (), "N": (n,), "M": (m,), "MN": (m, n), "SQ": (m, m), "L": (3,)}[kind]
    v = rng.uniform(-1.5, 1.5, shape)
    if v.size:       # both signs, none near zero
        v.flat[0] = -abs(v.flat[0]) - 0.3
        v.flat[-1] = abs(v.flat[-1]) + 0.3 if v.size > 1 else v.flat[-1]
    if kind == "SQ":
        v = v @ v.T + m * np.eye(m)
    v = {"": v, "+": v ** 2 + 0.5, "~": 0.9 * np.tanh(v), ">": v ** 2 + 1.5,
         "%": 0.5 + 0.45 * np.tanh(v)}[dom]
    if kind == "S":
        return float(v)
    if kind == "L":
        return [float(t) for t in v]
    return v


def kind_of(value, n, m):
    """The generator kind of a probed value's shape, or None."""
    shape = np.shape(value)
    return {(): "S", (n,): "N", (m,): "M", (m, n): "MN", (1,): "O"}.get(shape)


def _numeric(value):
    arr = np.asarray(value)
    return arr.dtype.kind in "biufc" and arr.size > 0 and np.all(np.isfinite(arr))


def _adapt(template, value):
    """(template, value) read as real numbers: np.real of complex, an index of a tuple."""
    if isinstance(value, (tuple, list)) or type(value).__name__.endswith("Result"):
        items = list(value)
        if not items:
            return []
        out = []
        for i in sorted({0, len(items) - 1}):
            out += _adapt(f"({template})[{i}]", items[i])
        return out
    if hasattr(value, "__next__"):          # an iterator: zip, enumerate, reversed, map
        return _adapt(f"list({template})", list(value))
    if not _numeric(value):
        return []
    if np.iscomplexobj(value):
        return [(f"np.real({template})", np.real(value))]
    return [(template, value)]


def _run(template, atoms, n, m, seed):
    rng = np.random.default_rng(seed)
    args = [probe_value(a, n, m, rng) for a in atoms]
    names = {f"a{i}": v for i, v in enumerate(args)}
    text = template.replace("@n", str(n)).replace("@m", str(m)).replace("@d", "a_mask")
    text = text.format(*names)
    env = {"np": np, "math": math, "operator": operator, "srcad": srcad,
           "a_mask": np.arange(n) % 2 == 0, **names}
    if "scipy" in text:
        env["scipy"] = scipy
    np.random.seed(0)
    return _adapt(template, eval(text, env))   # noqa: S307 - probing our own templates


@lru_cache(maxsize=None)
def catalog():
    """Every Entry the probes accept, sorted (the same table gives the same catalog).

    Probing takes seconds: the result is kept in the temporary folder, keyed by
    the table, this file and the library versions."""
    names = table_names()
    key = hashlib.sha256(repr((sorted(names.items()), np.__version__, sys.version,
                               Path(__file__).read_bytes())).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"srcad_fuzz_catalog_{key}.json"
    try:
        return tuple(Entry(*(tuple(v) if isinstance(v, list) else v for v in row))
                     for row in json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    entries = _probe(names)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps([list(astuple(e)) for e in entries]))
    os.replace(tmp, path)
    return entries


def _probe(names):
    entries = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name, declared in sorted(names.items()):
            kept = set()
            for template, kinds, choices in candidates(name):
                for domains in choices:
                    atoms = tuple(k + d for k, d in zip(kinds, domains))
                    if _passes_out(name, atoms):
                        continue
                    try:
                        first = _run(template, atoms, 4, 3, 1)
                        second = _run(template, atoms, 5, 2, 2)
                    except Exception:       # noqa: BLE001 - a form the primitive rejects
                        continue
                    for (t1, v1), (t2, v2) in zip(first, second):
                        k1, k2 = kind_of(v1, 4, 3), kind_of(v2, 5, 2)
                        if t1 != t2 or k1 != k2:
                            continue
                        if k1 is None:          # another shape: read through its sum
                            t1, k1 = f"np.sum({t1})", "S"
                        if (t1, k1) not in kept and len(kept) < 12:
                            kept.add((t1, k1))
                            entries.append(Entry(name, t1, atoms, k1, declared))
                    if first:
                        break
    return tuple(entries)


def by_kind():
    """{result kind: [Entry]}."""
    out = {}
    for e in catalog():
        out.setdefault(e.result, []).append(e)
    return out


def primitives(kind):
    """{primitive: [Entry]} of the entries whose value is of the given kind."""
    out = {}
    for e in by_kind().get(kind, []):
        out.setdefault(e.primitive, []).append(e)
    return out


if __name__ == "__main__":     # print the catalog
    import collections
    counts = collections.Counter(e.primitive for e in catalog())
    names = table_names()
    missing = sorted(set(names) - set(counts))
    for e in catalog():
        print(f"{e.primitive:32s} {e.result:3s} {e.template}  {e.atoms}")
    print(f"{len(catalog())} forms of {len(counts)} of {len(names)} primitives; "
          f"never accepted: {', '.join(missing)}")
