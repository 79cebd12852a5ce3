"""What the reverse and forward transformers share: names, helpers, comments, kinds."""

import gast
import numpy as np

from . import rules, runtime
from .aliasing import may_share
from .analysis import Analysis
from .errors import SrcadError
from .objects import Instance, instance_dependencies, value_kind
from .shapes import BINARY, UNARY, ShapeInference
from .syntax import assign, call, const, name
from .wrappers import call_signature

COMMENT = "srcad-comment: "


def marker(text):
    """A statement that emit.py turns into a comment line."""
    return gast.Expr(value=gast.Constant(value=COMMENT + text, kind=None))


def is_marker(node):
    return isinstance(node, gast.Expr) and isinstance(node.value, gast.Constant) \
        and isinstance(node.value.value, str) and node.value.value.startswith(COMMENT)


def call_keywords(op):
    """The keyword arguments of a call's Op as the generated call passes them."""
    return [gast.keyword(arg=k, value=v) for k, v in op.keywords.items()]


def runtime_kind(value):
    """The kind of a run-time value, as analysis.py uses kinds."""
    if isinstance(value, (bool, int, float, np.number)):
        return "scalar"
    if isinstance(value, np.ndarray):
        return "scalar" if value.ndim == 0 else "array"
    return value_kind(value)


class Generator:
    """Base of the transformers of one user function."""

    forward = False
    real_params = False     # whether the arguments hold only real numbers (dtypes.py)
    floating_params = frozenset()   # the array parameters a caller proved to hold floats

    def __init__(self, module, function, tree, wrt, param_kinds, is_callee, shapes=None):
        self.module = module
        self.function = function
        self.tree = tree
        self.namer = tree.namer
        self.analysis = Analysis(function, tree, wrt, param_kinds, is_callee, self.forward)
        self.active = self.analysis.active
        self.kinds = self.analysis.kinds
        self.wrt = wrt
        self.is_callee = is_callee
        self.helpers = dict(tree.lifted)     # name used in code -> object
        self.preceding = {}     # id(statement) -> the statement before it in its block
        self.helper_names = {id(f): n for n, f in tree.lifted.items()}   # id(object) -> name
        self.gradients = {}      # variable -> the name of its gradient (or tangent)
        self.filename = function.filename.rsplit("/", 1)[-1]
        self.param_shapes = shapes or {}
        self.inferred = ShapeInference(self.analysis, self.param_shapes, self.returned_shape)
        self.shapes = self.inferred.shapes
        if module.trace is not None and not isinstance(self, ShapeProbe):
            module.after("analysis", function.fn.__qualname__, self.facts())

    def facts(self):
        """What analysis found, as comment lines: each local's kind, shape and activity."""
        rows = []
        for v in self.analysis.params + sorted(set(self.analysis.locals)
                                               - set(self.analysis.params)):
            shape = self.shapes.get(v)
            rows.append(f"# {v}: {self.kinds.get(v, '?')}"
                        + (f", shape {shape}" if shape is not None else "")
                        + (", active" if v in self.active else ""))
        return "\n".join(rows)

    def written_params(self):
        """Parameters the function writes into, directly, through a name that may share
        their memory (`a = W; a[0] = v`), or by a call made for its effect (`W.sort()`)."""
        links = {}
        for s in self.analysis.statements:
            if not s.write and may_share(s.op):
                for n, _ in s.op.inputs():
                    links.setdefault(n, set()).add(s.target)
                    links.setdefault(s.target, set()).add(n)
        written = {s.target for s in self.analysis.statements if s.write and not s.synthetic} \
            | self.analysis.effect_targets()
        found = []
        for p in self.analysis.params:
            seen, todo = {p}, [p]
            while todo:
                for n in links.get(todo.pop(), ()):
                    if n not in seen:
                        seen.add(n)
                        todo.append(n)
            if seen & written:
                found.append(p)
        return found

    def bind_callee(self, node, op):
        """The signature of the user function a call statement calls, and the call's
        arguments bound to it; a call Python would refuse is refused at its line."""
        signature = call_signature(op.callee)
        try:
            return signature, signature.bind(*op.args, **op.keywords)
        except TypeError as e:
            raise self.function.error(SrcadError, node, f"the call of {op.description} does "
                                      f"not fit its parameters {signature}: {e}") from None

    def callee_shapes(self, bound, kinds, shape_of=None):
        """The shape patterns of a called function's array parameters at a call, as this
        function's shapes know its arguments (shape_of: while they are being found)."""
        shape_of = shape_of or self.shape_of
        shapes = {}
        for param, node in bound.arguments.items():
            shape = shape_of(node) if kinds.get(param) == "array" \
                and isinstance(node, gast.AST) else None
            if shape is not None:
                shapes[param] = shape
        return shapes

    def returned_shape(self, op, shape_of):
        """The shape of what a call of a user function returns, from the called
        function's own shapes for this call's arguments; None where not known."""
        try:
            bound = call_signature(op.callee).bind(*op.args, **op.keywords)
        except TypeError:
            return None
        kinds = self.call_kinds(bound, watch=False)
        return self.module.returned_shape(op.callee, kinds,
                                          self.callee_shapes(bound, kinds, shape_of),
                                          self.forward)

    def call_kinds(self, bound, watch=True):
        """The kinds of a called function's parameters at a call (Analysis.parameter_kinds);
        watch: the code made for the call depends on the objects passed (node_kind)."""
        kinds = self.analysis.parameter_kinds(bound, self.kinds)
        for param, node in bound.arguments.items() if watch else ():
            if isinstance(kinds.get(param), Instance):
                self.node_kind(node)
        return kinds

    def callee_wrt(self, signature, bound):
        """The parameters of a called function that this call passes differentiated values:
        the callee's code differentiates those alone (its other parameters are constants
        there, as their arguments are here)."""
        return [p for p in signature.parameters
                if isinstance(bound.arguments.get(p), gast.Name)
                and bound.arguments[p].id in self.active]

    # -- shapes known at transform time (shapes.py) -------------------------------------

    def shape_of(self, node):
        if isinstance(node, gast.Constant):
            return () if type(node.value) in (int, float, bool) else None
        if isinstance(node, gast.Name) and node.id in self.analysis.locals:
            return self.shapes.get(node.id)
        return None

    def shape_name(self, var):
        """A variable with var's shape that the adjoint can read for free: a parameter the
        function never reassigns, else var itself."""
        shape = self.shapes.get(var)
        if shape is not None:
            for p in self.analysis.params:
                if self.shapes.get(p) == shape and self.analysis.sites.get(p, 1) == 1 \
                        and p not in self.analysis.in_place and self.kinds.get(p) == "array":
                    return p
        return var

    def specialize(self, expr, target):
        """A rule's contribution with runtime-helper calls replaced by plain NumPy where
        the shapes known at transform time decide what the helper would do:
        `unbroadcast(g, x)` -> `g` for equal shapes; `matmul_left(g, a, b)` -> `g @ b.T`
        and the like for 1-d and 2-d operands; the gradient of a full reduction
        (`repeat_to_shape(g, x, None, False) / reduced_size(x, r)`) -> `np.full(x.shape,
        g / x.size)`. A helper whose decision the shapes do not settle stays."""
        helpers = {runtime.unbroadcast: "unbroadcast", runtime.matmul_left: "matmul_left",
                   runtime.matmul_right: "matmul_right",
                   runtime.repeat_to_shape: "repeat_to_shape",
                   runtime.reduced_size: "reduced_size"}
        generator = self

        def which(node):
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
                    and not node.keywords:
                return helpers.get(generator.helpers.get(node.func.id))
            return None

        def attribute(var, attr):
            return gast.Attribute(value=name(var), attr=attr, ctx=gast.Load())

        def np_call(fn, *args):
            np_ = gast.Attribute(value=name(generator.helper("np", np)), attr=fn,
                                 ctx=gast.Load())
            return gast.Call(func=np_, args=list(args), keywords=[])

        def full_reduction(node):
            """repeat_to_shape(g, x, None, False) with x an array: x's name (or one with
            its shape), else None."""
            if which(node) != "repeat_to_shape" or len(node.args) != 4:
                return None
            x, axis, keepdims = node.args[1:]
            if isinstance(x, gast.Name) and generator.kinds.get(x.id) == "array" \
                    and isinstance(axis, gast.Constant) and axis.value is None \
                    and isinstance(keepdims, gast.Constant) and keepdims.value is False:
                return generator.shape_name(x.id)
            return None

        class Rewrite(gast.NodeTransformer):
            def visit_BinOp(self, node):
                self.generic_visit(node)
                right = node.right
                if isinstance(node.op, gast.Div) and isinstance(node.left, gast.Call) \
                        and which(node.left) is None and isinstance(node.left.func, gast.Attribute) \
                        and getattr(node.left, "srcad_full_of", None) \
                        and which(right) == "reduced_size" and len(right.args) == 2 \
                        and isinstance(right.args[0], gast.Name) \
                        and generator.shape_name(right.args[0].id) == node.left.srcad_full_of \
                        and generator.shape_of(right.args[1]) == ():
                    # np.full(x.shape, g) / reduced_size(x, r) -> np.full(x.shape, g / x.size)
                    x = node.left.srcad_full_of
                    g = node.left.args[1]
                    node.left.args[1] = gast.BinOp(left=g, op=gast.Div(),
                                                   right=attribute(x, "size"))
                    return node.left
                return node

            def visit_Call(self, node):
                self.generic_visit(node)
                kind = which(node)
                args = node.args
                if kind == "unbroadcast" and len(args) == 2:
                    result, x = generator.shapes.get(target), generator.shape_of(args[1])
                    if result is not None and result == x \
                            and generator.node_kind(args[1]) in ("scalar", "array"):
                        return args[0]
                    if generator.node_kind(args[1]) == "array":
                        summed = summed_to(args[0], result, x, np_call)
                        if summed is not None:
                            return summed
                elif kind in ("matmul_left", "matmul_right") and len(args) == 3:
                    g, a, b = args
                    sa, sb = generator.shape_of(a), generator.shape_of(b)
                    plain = matmul_gradient(kind, g, a, b, sa, sb, np_call, attribute)
                    if plain is not None:
                        return plain
                elif kind == "repeat_to_shape":
                    x = full_reduction(node)
                    if x is not None:
                        full = np_call("full", attribute(x, "shape"), args[0])
                        full.srcad_full_of = x
                        return full
                return node

        return Rewrite().visit(expr)

    def helper(self, name_, obj):
        """The name generated code uses for a global object (a runtime helper, np...)."""
        if id(obj) in self.helper_names:
            return self.helper_names[id(obj)]
        namespace = self.function.namespace     # read unrecorded: naming is no dependency
        if name_ not in self.analysis.locals and dict.get(namespace, name_, obj) is obj \
                and name_ not in self.helpers and name_ not in getattr(self.module, "reserved", ()):
            used = name_
            self.namer.taken.add(used)
        else:
            used = self.namer.fresh(name_)
            while used in getattr(self.module, "reserved", ()):
                used = self.namer.fresh(name_)
        self.helpers[used] = obj
        self.helper_names[id(obj)] = used
        return used

    def runtime(self, name_):
        return name(self.helper(name_, getattr(runtime, name_)))

    def grad(self, var):
        if var not in self.gradients:
            self.gradients[var] = self.namer.fresh("d" + var.rstrip("_"))
        return self.gradients[var]

    def array_arguments(self, op, bindings, names=None):
        """A NumPy function reads a list or tuple argument as an array, and its rule,
        written for arrays, must read it so too (`dx * x` of two tuples is no product).
        Returns (statements, bindings): each argument of a NumPy rule named in `names`
        (default: the differentiated ones) and not known to be an array or a number
        is read through `runtime.array_like`."""
        module = getattr(op.primitive, "__module__", None) or ""
        if not (isinstance(op.primitive, np.ufunc) or module.split(".")[0] in ("numpy", "scipy")):
            return [], bindings
        if self.analysis.params and not self.analysis.param_kinds:
            return [], bindings     # `.source` before a call: the arguments read as arrays
        names = self.active if names is None else names
        sequences = set().union(*(getattr(table.get(op.primitive), "sequences", ())
                                  for table in (rules.ADJOINTS, rules.TANGENTS)))
        statements, bound = [], dict(bindings)
        for param, node in bindings.items():
            if param not in sequences and isinstance(node, gast.Name) and node.id in names \
                    and self.kinds.get(node.id) not in ("scalar", "array"):
                array = self.namer.fresh(node.id.rstrip("_") + "_array")
                statements.append(assign(array, call(self.runtime("array_like"), name(node.id))))
                bound[param] = name(array)
        return statements, bound

    def node_kind(self, node):
        kind = self.analysis.argument_kind(node, self.kinds)
        if isinstance(kind, Instance):      # the code depends on the object's fields
            value = self.analysis.resolver.constant(node)
            self.function.namespace.watched += instance_dependencies(value)
        return kind

    def template_names(self, template):
        """Renames that bind a rule's global names to the objects the rule means."""
        import builtins
        renames = {}
        for free in template.free:
            obj = template.globals.get(free, getattr(builtins, free, None))
            used = self.helper(free, obj)
            if used != free:
                renames[free] = used
        return renames

    def same_shape(self, op, param, bindings):
        """Whether the argument bound to param has the result's shape, by kinds: the only
        array argument of an elementwise function (np.triu of a 1-d array is 2-d)."""
        p = op.primitive
        if not (p in BINARY or p in UNARY or isinstance(p, np.ufunc) and p.signature is None
                and p.nout == 1):
            return False
        kinds = {p: self.node_kind(n) for p, n in bindings.items()
                 if not (isinstance(n, gast.Constant) and n.value is None)}
        others = [k for p, k in kinds.items() if p != param]
        return all(k == "scalar" for k in others) and kinds.get(param) in ("scalar", "array")

    def block(self, body):
        """Transform a block: each group of statements from one user line under a
        comment naming that line. The second output runs backwards (reverse mode)."""
        groups = []
        for before, node in zip([None] + body, body):
            self.preceding[id(node)] = before
            first, second = self.statement(node)
            lineno = getattr(node, "lineno", None)
            if groups and groups[-1][0] == lineno:
                groups[-1][1].extend(first)
                groups[-1][2][:0] = second
            else:
                groups.append((lineno, first, second))
        out, back = [], []
        for lineno, first, second in groups:
            location = f"{self.filename}:{lineno}: {self.function.source_line(lineno).strip()}"
            if first:
                out += [marker(location)] + first
            if second:
                back[:0] = [marker("grad of " + location)] + second
        return out, back


def summed_to(g, result, x, np_call):
    """`unbroadcast(g, x)` for g of shape result and an array x of shape x, as the sums
    it makes (`np.sum(g, axis=0)` for a bias; np.sum, which has rules, so that the code
    can be differentiated again), or None where the shapes do not settle them: the
    leading axes x lacks summed, then its axes of size 1 where g's are not, kept."""
    if result is None or not x or len(x) > len(result):
        return None
    lead = len(result) - len(x)
    kept = []
    for i, (n, m) in enumerate(zip(x, result[lead:])):
        if n == 1 and m != 1:
            kept.append(i)
        elif n != m:
            return None

    def reduce(value, axes, keepdims):
        axis = const(axes[0]) if len(axes) == 1 else \
            gast.Tuple(elts=[const(a) for a in axes], ctx=gast.Load())
        keywords = [gast.keyword(arg="axis", value=axis)]
        if keepdims:
            keywords.append(gast.keyword(arg="keepdims", value=const(True)))
        summed = np_call("sum", value)
        summed.keywords = keywords
        return summed

    if lead:
        g = reduce(g, tuple(range(lead)), False)
    if kept:
        g = reduce(g, tuple(kept), True)
    return g if lead or kept else None


def matmul_gradient(kind, g, a, b, sa, sb, np_call, attribute):
    """The gradient of `a @ b` with respect to a (matmul_left) or b (matmul_right) as a
    plain expression, for operands of known 1 or 2 dimensions; else None."""
    if sa is None or sb is None or not 1 <= len(sa) <= 2 or not 1 <= len(sb) <= 2 \
            or not isinstance(a, gast.Name) or not isinstance(b, gast.Name):
        return None

    def matmul(x, y):
        return gast.BinOp(left=x, op=gast.MatMult(), right=y)

    def transposed(x):
        return attribute(x.id, "T")

    if kind == "matmul_left":
        if len(sa) == 2 and len(sb) == 2:
            return matmul(g, transposed(b))          # (m,k) @ (k,n): g @ b.T
        if len(sa) == 1 and len(sb) == 2:
            return matmul(b, g)                      # (k,) @ (k,n): b @ g
        if len(sa) == 2 and len(sb) == 1:
            return np_call("outer", g, b)            # (m,k) @ (k,): outer(g, b)
        return gast.BinOp(left=g, op=gast.Mult(), right=b)   # (k,) @ (k,): g * b
    if len(sa) == 2 and len(sb) == 2:
        return matmul(transposed(a), g)              # a.T @ g
    if len(sa) == 1 and len(sb) == 2:
        return np_call("outer", a, g)                # outer(a, g)
    if len(sa) == 2 and len(sb) == 1:
        return matmul(transposed(a), g)              # a.T @ g
    return gast.BinOp(left=g, op=gast.Mult(), right=a)


class GeneratedModule:
    """All the functions one transform generates: the user's function and every function
    it calls, each specialized to its arguments' kinds. Subclasses build one function
    in `generate(fn, function, tree, wrt, param_kinds, is_callee)`, calling `started`
    before they build it."""

    def __init__(self):
        self.functions = []
        self.specializations = {}   # (function, kinds, wrt, shapes) -> generated callee
        self.returned_shapes = {}   # (function, kinds, shapes) -> the shape it returns
        self.reserved = set()       # the names of the generated functions: helpers avoid them
        self.trace = None           # show(stage, title, code), where verbose=2 (pipeline.py)

    def add(self, fn, wrt, param_kinds, is_callee=False, shapes=None, real=False,
            floating=frozenset()):
        """Stages 1 to 5 (pipeline.py) for fn, and for the functions it calls; shapes:
        the shape patterns of its array parameters (shapes.py), where known; real:
        whether its arguments hold only real numbers (dtypes.real_value); floating: the
        parameters its caller proved to be arrays of floats (dtypes.floating_names)."""
        from .normalize import normalize
        from .parse import parse_function
        function = parse_function(fn)
        self.after("parse", fn.__qualname__, function.node)
        tree = normalize(function)
        self.after("normalize", fn.__qualname__, tree)
        return self.generate(fn, function, tree, list(wrt), param_kinds, is_callee,
                             shapes or {}, real, floating)

    def returned_shape(self, fn, kinds, shapes, forward):
        """The shape of what fn returns for parameters of these kinds and shapes, from an
        analysis of fn alone (ShapeProbe); None where not known, or while fn is being
        probed (a recursive call)."""
        key = _key(fn, kinds, shapes)
        if key not in self.returned_shapes:
            self.returned_shapes[key] = None
            try:
                self.returned_shapes[key] = ShapeProbe(self, fn, kinds, shapes, forward).result
            except SrcadError:      # refused where the call is transformed
                pass
        return self.returned_shapes[key]

    def after(self, stage, title, code):
        """Show the code as it is after a stage, where the transform is traced."""
        if self.trace is not None:
            self.trace(stage, title, code)

    def started(self, fn, param_kinds, generated, is_callee):
        """Record a function before it is built, so that recursive calls find it."""
        self.functions.append(generated)
        if is_callee:
            key = _key(fn, param_kinds, generated.param_shapes, generated.wrt,
                       generated.real_params, generated.floating_params)
            self.specializations[key] = generated
        return generated

    def callee(self, fn, kinds, wrt, site, shapes, real=False, floating=frozenset()):
        """fn's code for these kinds and shapes, differentiated with respect to the
        parameters wrt; site: (the caller's Function, the call statement), where an
        error about fn that has no line of its own points."""
        found = self.specializations.get(_key(fn, kinds, shapes, wrt, real, floating))
        if found is not None:
            return found
        try:
            return self.add(fn, wrt, kinds, is_callee=True, shapes=shapes, real=real,
                            floating=floating)
        except SrcadError as e:
            if e.filename is not None:
                raise
            raise site[0].error(type(e), site[1], f"{e.message} (called here)") from None

    def fresh(self, base, function):
        """A name for a generated function: none the user's module, another generated
        function or a helper bound in the generated code (runtime.where_grad...) uses."""
        taken = set(self.reserved)
        for f in self.functions:
            taken |= set(f.helpers)
        candidate, n = base, 1
        while candidate in taken or candidate in function.namespace:
            n += 1
            candidate = f"{base}{n}"
        self.reserved.add(candidate)
        return candidate


def _key(fn, kinds, shapes, wrt=(), real=False, floating=frozenset()):
    return (fn, tuple(sorted(kinds.items())), tuple(sorted(shapes.items())), tuple(wrt), real,
            floating)


class ShapeProbe(Generator):
    """A called function's analysis and shapes alone, no code: `result` is the shape
    of what it returns for parameters of these kinds and shapes."""

    def __init__(self, module, fn, kinds, shapes, forward):
        from .normalize import normalize
        from .parse import parse_function
        self.forward = forward
        function = parse_function(fn)
        super().__init__(module, function, normalize(function), [], kinds, True, shapes)
        result = self.tree.body[-1].value
        self.result = self.shape_of(result)
