"""Two copies of a generated program that do not run srcad: the oracles' programs.

* ``reference(source)``: the program as plain NumPy, run with a ``srcad``
  whose transforms are central differences (``FiniteDifferences``), and
  with its kinks and branch conditions recorded (``Gaps``) so that inputs
  near one can be redrawn. Its finite differences are the first oracle.
* ``jax_twin(source)``: the program over ``jax.numpy`` in float64 (item
  writes become ``.at[...]`` updates, ``srcad`` becomes ``jax``'s own
  transforms), where it maps: the second oracle. ``None`` without JAX.

Both are built by compiling the program's syntax tree into a namespace whose
``__import__`` hands out the replacements, so aliases (``xp = np``,
``from numpy import tanh as th``) reach them too.
"""
import ast
import builtins
import copy
import inspect
import math
import operator
import os
import tempfile

import numpy as np

import srcad
import srcad.runtime

from oracle import numerical_grad, numerical_jvp, numerical_vjp, wrt_positions

# step of the differences that the reference's own transforms take; a
# difference over a function that takes differences uses the larger NESTED_STEP
INNER_STEP = 1e-4
NESTED_STEP = 1e-3


# ---------------------------------------------------------------------------
# Distances to kinks and branch boundaries
# ---------------------------------------------------------------------------

class Gaps:
    """The distances to their kink or boundary that comparisons and kinked functions
    met while ``active``."""

    def __init__(self):
        self.values = []
        self.active = True

    @staticmethod
    def receiver(value, method):
        """value, whose `method` the program calls: an AttributeError as in Python where
        it has none (a float's `.max()`)."""
        getattr(value, method)
        return value

    def add(self, g):
        if self.active:
            g = np.asarray(g, dtype=float)
            if g.size:
                self.values.append(float(np.min(np.abs(g))))

    def ties(self, values):
        v = np.sort(np.asarray(values, dtype=float).ravel())
        if v.size > 1:
            self.add(np.diff(v))

    def gap(self, a, b):
        """a - b, recorded when it compares real numbers (not ints)."""
        if not (isinstance(a, (int, bool)) and isinstance(b, (int, bool))):
            try:
                self.add(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
            except (TypeError, ValueError):
                pass
        return operator.sub(a, b)


def _kink_numpy(gaps):
    """A stand-in for the numpy module whose kinked functions record their gaps."""

    def extremum(fn):
        def call(a, axis=None, *args, **kw):
            arr = np.asarray(a, dtype=float)
            if arr.ndim and arr.size > 1:
                ordered = np.sort(arr.ravel()) if axis is None else np.sort(arr, axis=axis)
                gaps.add(np.diff(ordered, axis=-1 if axis is None else axis))
            return fn(a, axis, *args, **kw)
        return call

    def pairwise(fn):
        def call(a, b, *args, **kw):
            gaps.add(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
            return fn(a, b, *args, **kw)
        return call

    def at_zero(fn):
        def call(a, *args, **kw):
            gaps.add(a)
            return fn(a, *args, **kw)
        return call

    def at_integers(fn, half=False):
        def call(a, *args, **kw):
            scale = 10.0 ** (args[0] if args and isinstance(args[0], int) else
                             kw.get("decimals", 0))
            v = np.asarray(a, dtype=float) * scale
            gaps.add((v - np.floor(v) - 0.5 if half else v - np.round(v)) / scale)
            return fn(a, *args, **kw)
        return call

    def clip(a, lo=None, hi=None, *args, **kw):
        for bound in (lo, hi):
            if bound is not None:
                gaps.add(np.asarray(a, dtype=float) - np.asarray(bound, dtype=float))
        return np.clip(a, lo, hi, *args, **kw)

    def ordering(fn):
        def call(a, axis=-1, *args, **kw):
            arr = np.asarray(a, dtype=float)
            if arr.ndim:
                gaps.add(np.diff(np.sort(arr, axis=axis), axis=axis))
            return fn(a, axis, *args, **kw)
        return call

    def divided(fn):
        def call(a, b, *args, **kw):
            q = np.asarray(a, dtype=float) / np.asarray(b, dtype=float)
            gaps.add((q - np.round(q)) * np.asarray(b, dtype=float))
            return fn(a, b, *args, **kw)
        return call

    class half_precision:
        """A ufunc whose float16 results (np.tanh(True) is one) record a gap of 0: values
        rounded to 3 digits leave the differences nothing to measure. Its attributes
        (.reduce, .at, ...) are the ufunc's."""

        def __init__(self, ufunc):
            self.ufunc = ufunc

        def __call__(self, *args, **kw):
            out = self.ufunc(*args, **kw)
            if getattr(out, "dtype", None) == np.float16:
                gaps.add(0.0)
            return out

        def __getattr__(self, name):
            return getattr(self.ufunc, name)

    class KinkNumpy:
        def __getattr__(self, name):
            value = getattr(np, name)
            return half_precision(value) if isinstance(value, np.ufunc) else value

    kinked = KinkNumpy()
    for name in ("max", "min", "amax", "amin", "argmax", "argmin", "ptp", "median"):
        setattr(kinked, name, extremum(getattr(np, name)))
    for name in ("maximum", "minimum", "fmax", "fmin", "heaviside", "copysign"):
        setattr(kinked, name, pairwise(getattr(np, name)))
    for name in ("abs", "absolute", "fabs", "sign", "sqrt", "cbrt"):
        setattr(kinked, name, at_zero(getattr(np, name)))
    for name in ("floor", "ceil", "trunc", "fix"):
        setattr(kinked, name, at_integers(getattr(np, name)))
    for name in ("round", "around", "rint"):
        setattr(kinked, name, at_integers(getattr(np, name), half=True))
    for name in ("mod", "remainder", "fmod", "floor_divide"):
        setattr(kinked, name, divided(getattr(np, name)))
    kinked.clip, kinked.sort, kinked.argsort = clip, ordering(np.sort), ordering(np.argsort)
    kinked.arctan2 = at_origin(np.arctan2, gaps)
    kinked.std = at_zero_spread(np.std, gaps)
    kinked.linalg = Delegate(np.linalg, norm=at_zero_norm(np.linalg.norm, gaps),
                             svd=extra_singular_vectors(np.linalg.svd, gaps),
                             qr=rank_deficient_qr(np.linalg.qr, gaps))
    return kinked


class Delegate:
    """A module whose attributes are its own, except those given."""

    def __init__(self, module, **replaced):
        self.module = module
        vars(self).update(replaced)

    def __getattr__(self, name):
        return getattr(self.module, name)


def at_origin(fn, gaps):
    """atan2(y, x): singular where y and x are both 0."""
    def call(y, x, *args, **kw):
        gaps.add(np.hypot(np.asarray(y, dtype=float), np.asarray(x, dtype=float)))
        return fn(y, x, *args, **kw)
    return call


def at_zero_spread(fn, gaps):
    """A std: singular where the values it reduces are all equal, unless each is alone
    (a std of one value is 0 whatever it is)."""
    def call(a, *args, **kw):
        out = fn(a, *args, **kw)
        if np.size(a) > np.size(out):
            gaps.add(np.asarray(out, dtype=float))
        return out
    return call


def at_zero_norm(fn, gaps):
    """A norm: singular at the zero vector."""
    def call(*args, **kw):
        out = fn(*args, **kw)
        gaps.add(np.asarray(out, dtype=float))
        return out
    return call


def rank_deficient_qr(fn, gaps):
    """A QR factorization: Q is not unique, and has no derivative, where a diagonal entry
    of R is 0 (a matrix of lower rank, such as an outer product): the distance is the
    smallest of them."""
    def call(a, *args, **kw):
        out = fn(a, *args, **kw)
        r = np.linalg.qr(np.asarray(a, dtype=float), mode="r")
        k = min(r.shape[-2:])
        gaps.add(np.abs(np.diagonal(r, axis1=-2, axis2=-1))[..., :k])
        return out
    return call


def extra_singular_vectors(fn, gaps):
    """An svd of a matrix that is not square, with full matrices: its extra singular
    vectors are not unique, and have no derivative (srcad's forward mode gives nan
    tangents for them, its reverse mode refuses): no input is away from that."""
    def call(a, full_matrices=True, compute_uv=True, *args, **kw):
        if full_matrices and compute_uv and np.shape(a)[-1] != np.shape(a)[-2]:
            gaps.add(0.0)
        return fn(a, full_matrices, compute_uv, *args, **kw)
    return call


def _kink_builtins(gaps):
    """sorted, min, max, abs and round that record their gaps."""

    def keyed(fn):
        def call(*args, key=None, **kw):
            items = list(args[0]) if len(args) == 1 else list(args)
            try:
                gaps.ties([key(v) if key else v for v in items])
            except (TypeError, ValueError):
                pass
            return fn(*args, key=key, **kw) if key else fn(*args, **kw)
        return call

    def absolute(a):
        gaps.add(a)
        return abs(a)

    def rounded(a, ndigits=None):
        v = float(np.asarray(a).ravel()[0]) * 10.0 ** (ndigits or 0) if np.size(a) == 1 else 0.25
        gaps.add(v - math.floor(v) - 0.5)
        return round(a, ndigits) if ndigits is not None else round(a)

    table = dict(vars(builtins))
    table.update(sorted=keyed(sorted), min=keyed(min), max=keyed(max), abs=absolute,
                 round=rounded)
    return table


class _Comparisons(ast.NodeTransformer):
    """a < b becomes _fz.gap(a, b) < 0, and e.max() / e.min() record their ties."""

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Lt, ast.Gt, ast.LtE, ast.GtE)):
            call = ast.Call(ast.Attribute(ast.Name("_fz", ast.Load()), "gap", ast.Load()),
                            [node.left, node.comparators[0]], [])
            return ast.Compare(call, node.ops, [ast.Constant(0)])
        return node

    def visit_BinOp(self, node):
        """a ** p for a p that is no integer: a singular point at a == 0 (sqrt's)."""
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow) and not (isinstance(node.right, ast.Constant)
                                                 and float(node.right.value).is_integer()):
            record = ast.Call(ast.Attribute(ast.Name("_fz", ast.Load()), "add", ast.Load()),
                              [node.left], [])
            node.left = ast.Subscript(ast.Tuple([record, node.left], ast.Load()),
                                      ast.Constant(1), ast.Load())
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        fn = node.func
        if isinstance(fn, ast.Attribute) and fn.attr in ("max", "min") and not (
                isinstance(fn.value, ast.Name) and fn.value.id in ("np", "numpy")):
            node.func = ast.Attribute(ast.Name("_fz_numpy", ast.Load()), fn.attr, ast.Load())
            receiver = ast.Call(ast.Attribute(ast.Name("_fz", ast.Load()), "receiver",
                                              ast.Load()), [fn.value, ast.Constant(fn.attr)], [])
            node.args = [receiver] + node.args
        return node


# ---------------------------------------------------------------------------
# srcad's transforms, computed another way
# ---------------------------------------------------------------------------

def _bind(f, wrt):
    """(positions, multi) of a wrt for f."""
    return wrt_positions(f, wrt)


def _with_options(transform):
    """transform(f, wrt=...) usable as srcad's are: bare, with arguments, or called."""
    def made(self, f=None, wrt=0, **options):
        if f is None:
            return lambda g: transform(self, g, wrt, **options)
        return transform(self, f, wrt, **options)
    made.__name__ = transform.__name__
    return made


def _parameters(f):
    return len([p for p in inspect.signature(f).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


class FiniteDifferences:
    """``srcad`` for the reference program: every transform by central differences."""

    SrcadError = srcad.SrcadError
    NoDerivativeError = srcad.NoDerivativeError
    UnsupportedSyntaxError = srcad.UnsupportedSyntaxError
    runtime = srcad.runtime

    def __init__(self, step=INNER_STEP):
        self.step = step

    @staticmethod
    def adjoint(*primitives):
        return lambda rule: rule

    tangent = adjoint

    @_with_options
    def grad(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        return lambda *args: numerical_grad(f, args, positions if multi else positions[0],
                                            step=self.step)

    @_with_options
    def value_and_grad(self, f, wrt, **options):
        g = self.grad(f, wrt)
        return lambda *args: (f(*copy.deepcopy(args)), g(*args))

    @_with_options
    def jvp(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        count = _parameters(f)

        def call(*all_args):
            args, tangents = all_args[:count], all_args[count:]
            return f(*copy.deepcopy(args)), numerical_jvp(f, args, positions, tangents,
                                                          step=self.step)
        return call

    @_with_options
    def vjp(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)

        def call(*args):
            def pullback(cotangent):
                return numerical_vjp(f, args, cotangent, positions if multi else positions[0],
                                     step=self.step)
            return f(*copy.deepcopy(args)), pullback
        return call

    @_with_options
    def jacobian(self, f, wrt, mode="reverse", **options):
        positions, multi = _bind(f, wrt)
        if multi:
            raise NotImplementedError("the reference takes Jacobians with respect to one argument")

        def call(*args):
            x = np.asarray(args[positions[0]], dtype=float)
            out_shape = np.shape(f(*copy.deepcopy(args)))
            columns = []
            for idx in np.ndindex(x.shape or (1,)):
                e = np.zeros(x.shape)
                e[idx if x.shape else ()] = 1.0
                tangent = e if x.shape else 1.0
                columns.append(np.asarray(numerical_jvp(f, args, positions, [tangent],
                                                        step=self.step)))
            jac = np.stack(columns, axis=-1) if x.shape else columns[0]
            return jac.reshape(out_shape + x.shape)
        return call

    @_with_options
    def hessian(self, f, wrt, **options):
        outer = FiniteDifferences(NESTED_STEP)
        return outer.jacobian(self.grad(f, wrt), wrt)

    @_with_options
    def hvp(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        g = self.grad(f, wrt)
        count = _parameters(f)

        def call(*all_args):
            args, vectors = all_args[:count], all_args[count:]
            out = numerical_jvp(g, args, positions, vectors, step=NESTED_STEP)
            return out
        return call

    @staticmethod
    def stop_gradient(x):
        raise NotImplementedError("the reference program has no stop_gradient")


def reference(source, cells=()):
    """(namespace, gaps) of the program run as plain NumPy with finite-difference
    transforms; comparisons and kinks record their gaps."""
    gaps = Gaps()
    kinked = _kink_numpy(gaps)
    fd = FiniteDifferences()
    table = _kink_builtins(gaps)

    kinked_math = Delegate(math, atan2=at_origin(math.atan2, gaps))

    def imports(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "numpy" or name == "numpy.linalg" and not fromlist:
            return kinked
        if name == "numpy.linalg":
            return kinked.linalg
        if name == "math":
            return kinked_math
        if name == "srcad":
            return fd
        return builtins.__import__(name, globals, locals, fromlist, level)

    table["__import__"] = imports
    ns = {"__builtins__": table, "__name__": "fuzz_reference", "_fz": gaps, "_fz_numpy": kinked}
    for text in (source, *cells):
        tree = ast.fix_missing_locations(_Comparisons().visit(ast.parse(text)))
        exec(compile(tree, "<fuzz reference>", "exec"), ns)   # noqa: S102 - our program
    return ns, gaps


def run_cell(ns, text, kind):
    """Run a later cell of the program in a twin's namespace."""
    tree = ast.parse(text)
    tree = _Comparisons().visit(tree) if kind == "reference" else _Updates().visit(tree)
    exec(compile(ast.fix_missing_locations(tree), f"<fuzz {kind}>", "exec"), ns)  # noqa: S102


# ---------------------------------------------------------------------------
# The JAX twin
# ---------------------------------------------------------------------------

try:
    import jax
    import jax.numpy as jnp
    import jax.scipy.special
    import jax.scipy.stats
    jax.config.update("jax_enable_x64", True)
except ImportError:       # pragma: no cover - JAX is optional
    jax = None
else:   # each operation compiles once per shape: keep what was compiled across processes
    try:
        jax.config.update("jax_compilation_cache_dir",
                          os.path.join(tempfile.gettempdir(), "srcad_fuzz_jax_cache"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    except (AttributeError, KeyError, ValueError):    # pragma: no cover - an older JAX
        pass


def _index(node):
    """An index expression as a value: slices become slice(...) calls."""
    if isinstance(node, ast.Slice):
        parts = [node.lower, node.upper, node.step]
        return ast.Call(ast.Name("slice", ast.Load()),
                        [p if p is not None else ast.Constant(None) for p in parts], [])
    if isinstance(node, ast.Tuple):
        return ast.Tuple([_index(e) for e in node.elts], ast.Load())
    return node


class _Updates(ast.NodeTransformer):
    """a[i] = v becomes a = _jx_update(a, i, v, "set"), a[i] += v an "add", ..."""

    OPS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}

    def _update(self, target, value, op):
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
            return None
        name = target.value.id
        call = ast.Call(ast.Name("_jx_update", ast.Load()),
                        [ast.Name(name, ast.Load()), _index(target.slice), value,
                         ast.Constant(op)], [])
        return ast.Assign([ast.Name(name, ast.Store())], call)

    def visit_Assign(self, node):
        self.generic_visit(node)
        if len(node.targets) == 1:
            return self._update(node.targets[0], node.value, "set") or node
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        op = self.OPS.get(type(node.op))
        return (op and self._update(node.target, node.value, op)) or node


def _jx_update(a, index, value, op):
    if isinstance(a, list):           # Python lists keep Python's semantics
        if op == "set":
            a[index] = value
        else:
            a[index] = getattr(operator, {"add": "add", "subtract": "sub", "multiply": "mul",
                                          "divide": "truediv"}[op])(a[index], value)
        return a
    a = jnp.asarray(a)
    ref = a.at[index]
    if op == "subtract":
        return ref.add(-value)
    return getattr(ref, op)(value)


class JaxTransforms:
    """``srcad`` for the JAX twin: JAX's own transforms in float64."""

    SrcadError = srcad.SrcadError

    @staticmethod
    def adjoint(*primitives):
        return lambda rule: rule

    tangent = adjoint

    @_with_options
    def grad(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        return jax.grad(f, argnums=positions if multi else positions[0])

    @_with_options
    def value_and_grad(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        return jax.value_and_grad(f, argnums=positions if multi else positions[0])

    @staticmethod
    def _partial(f, args, positions):
        def g(*moving):
            full = list(args)
            for p, v in zip(positions, moving):
                full[p] = v
            return f(*full)
        return g

    @_with_options
    def jvp(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        count = _parameters(f)

        def call(*all_args):
            args, tangents = all_args[:count], all_args[count:]
            primals = tuple(args[p] for p in positions)
            tangents = tuple(jax.tree_util.tree_map(lambda t, p: jnp.asarray(t, jnp.result_type(
                p, float)) * 1.0, t, p) for t, p in zip(tangents, primals))
            primals = tuple(jax.tree_util.tree_map(lambda p: jnp.asarray(p, float), p)
                            for p in primals)
            return jax.jvp(self._partial(f, args, positions), primals, tangents)
        return call

    @_with_options
    def vjp(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)

        def call(*args):
            primals = tuple(jax.tree_util.tree_map(lambda p: jnp.asarray(p, float), args[p])
                            for p in positions)
            value, pb = jax.vjp(self._partial(f, args, positions), *primals)

            def pullback(cotangent):
                grads = pb(jax.tree_util.tree_map(lambda c: jnp.asarray(c, float), cotangent))
                return grads if multi else grads[0]
            return value, pullback
        return call

    @_with_options
    def jacobian(self, f, wrt, mode="reverse", **options):
        positions, multi = _bind(f, wrt)
        make = jax.jacfwd if mode == "forward" else jax.jacrev
        return make(f, argnums=positions if multi else positions[0])

    @_with_options
    def hessian(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        return jax.hessian(f, argnums=positions if multi else positions[0])

    @_with_options
    def hvp(self, f, wrt, **options):
        positions, multi = _bind(f, wrt)
        count = _parameters(f)

        def call(*all_args):
            args, vectors = all_args[:count], all_args[count:]
            g = jax.grad(self._partial(f, args, positions), argnums=tuple(range(len(positions))))
            # a tuple or list argument stays one, as in srcad's hvp (and JAX's grad)
            primals = tuple(jax.tree_util.tree_map(lambda p: jnp.asarray(p, float), args[p])
                            for p in positions)
            vectors = tuple(jax.tree_util.tree_map(lambda v: jnp.asarray(v, float), v)
                            for v in vectors)
            out = jax.jvp(g, primals, vectors)[1]
            return out if multi else out[0]
        return call


class _JaxMath:
    """math over jax.numpy: math.sin(x) differentiates as jnp.sin(x)."""

    def __getattr__(self, name):
        aliases = {"atan2": "arctan2", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
                   "pow": "power", "fabs": "abs", "pi": "pi", "e": "e"}
        if name == "erf":
            return jax.scipy.special.erf
        return getattr(jnp, aliases.get(name, name))


class _JaxScipy:
    special = jax.scipy.special if jax else None
    stats = jax.scipy.stats if jax else None


def jax_twin(source, cells=()):
    """The program's namespace over jax.numpy in float64, or None where JAX is absent
    or the program does not run there."""
    if jax is None:
        return None
    shim = JaxTransforms()

    def imports(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.split(".")[0]
        if top == "numpy":
            return jnp
        if top == "srcad":
            if name == "srcad":
                return shim
            raise ImportError(f"{name} has no JAX twin")
        if top == "math":
            return _JaxMath()
        if top == "scipy":
            return _JaxScipy
        return builtins.__import__(name, globals, locals, fromlist, level)

    table = dict(vars(builtins))
    table["__import__"] = imports
    ns = {"__builtins__": table, "__name__": "fuzz_jax", "_jx_update": _jx_update}
    try:
        for text in (source, *cells):
            tree = ast.fix_missing_locations(_Updates().visit(ast.parse(text)))
            exec(compile(tree, "<fuzz jax>", "exec"), ns)   # noqa: S102 - our program
    except Exception:       # noqa: BLE001 - the program does not map onto jax.numpy
        return None
    return ns
