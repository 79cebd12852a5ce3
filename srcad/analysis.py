"""Stage 4: facts about a normalized function that the transformers need.

* which operation each statement performs (`Op`, from resolve.py);
* activity: a variable is active when it depends on a differentiated input
  (varied) and the output depends on it (useful); only active variables get
  derivative code;
* kinds: "scalar" (a 0-d number), "array" (an ndarray or NumPy scalar) or
  "other" (containers, unknown), so that generated code can add gradients
  with `+` and skip broadcasting reductions where the kinds allow;
* assignment sites: which variables are assigned more than once or inside a
  loop, so that their old values must be recorded before being overwritten;
* in-place writes that would go through a second name for the same memory,
  which srcad refuses rather than differentiate wrongly.

The analyses are flow-insensitive (one fact per variable for the whole
function), which is conservative: it can only make more variables active
or record more values, never fewer than correctness needs.
"""
import builtins
import collections
import inspect
import operator

import gast
import numpy as np

from . import objects
from .aliasing import check_sharing
from .errors import NoDerivativeError, SrcadError, UnsupportedSyntaxError
from .normalize import local_names
from .resolve import OPERATORS, UNRESOLVED, Op, Resolver
from .rules import CONTAINERS
from .dataflow import reachable
from .rules.runtime import MUTATING
from .syntax import names_in, walk

REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin}


class Statement:
    """One simple statement of the normalized function and what it does."""

    def __init__(self, node, target, op, loop_depth, write=False, synthetic=False):
        self.synthetic = synthetic    # a call that may update target (forward mode only)
        self.node = node
        self.target = target          # the variable assigned or updated in place
        self.op = op
        self.loop_depth = loop_depth
        self.write = write            # an in-place update of target (x[i] = v, xs.append(v))


# the modules of the primitives srcad has its own rules for (ndarray's methods have none)
KNOWN_MODULES = {"numpy", "scipy", "srcad", "builtins", "math", "cmath", "operator",
                 "_operator"}


class Analysis:
    def __init__(self, function, tree, wrt, param_kinds, is_callee=False, forward=False):
        self.forward = forward
        self.param_kinds = param_kinds
        self.function = function
        self.tree = tree
        self.params = [a.id for a in tree.args.posonlyargs + tree.args.args
                       + tree.args.kwonlyargs]
        self.locals = local_names(tree)
        values = {p: k for p, k in param_kinds.items() if objects.is_callable_value(k)}
        self.resolver = Resolver(function, self.locals, _assignments(tree, self.params),
                                 values, self.name_object)
        self.statements = []
        self.loop_targets = {}        # loop variable -> number of loops binding it
        self.methods = []             # (node, statement or None) of each method call
        self.returned_kinds = {}      # (called function, its parameters' kinds) -> result's
        self.collect(tree.body, 0)
        self.kinds = self.resolve_methods(param_kinds)
        self.returned = _returned_name(tree)
        self.varied = self.propagate_varied(set(wrt))
        outputs = {self.returned} if self.returned else set()
        if forward:     # arguments updated in place are outputs too, and values a runtime
            # helper updates in place (restore_item on a record that other records share)
            outputs |= {s.target for s in self.statements if s.write and s.target in self.params}
            outputs |= {s.op.args[0].id for s in self.statements
                        if s.op.kind == "rule" and s.op.primitive in MUTATING
                        and isinstance(s.op.args[0], gast.Name) and s.op.args[0].id in self.varied}
        else:           # a call may update a differentiated argument: its code is generated,
            outputs |= {s.target for s in self.statements   # which refuses such updates
                        if s.op.kind == "call" and any(n in self.varied for n, _ in s.op.inputs())}
        self.useful = self.propagate_useful(outputs)
        self.active = self.varied & self.useful
        self.sites, self.in_loop = self.count_sites()
        self.invariant = None         # invariant_locals(), when first asked
        self.first_assignment = {}
        for s in self.statements:
            if not s.write:
                self.first_assignment.setdefault(s.target, s.node)
        self.in_place = {s.target for s in self.statements if s.write and not s.synthetic} | \
            {s.op.node.value.id for s in self.statements
             if s.op.kind == "subscript" and isinstance(s.op.node.value, gast.Name)} | \
            {s.op.args[0].id for s in self.statements if s.op.kind == "field"}
        self.in_place |= {s.op.args[0].id for s in self.statements
                          if s.op.kind == "rule" and s.op.primitive in MUTATING
                          and isinstance(s.op.args[0], gast.Name)}
        self.check_unknown_ops()
        self.check_in_place_writes(is_callee)

    def name_object(self, obj):
        """A name the generated code reads obj by: an object a call passes that the source
        does not name (the object a method is bound to, a functools.partial's arguments)."""
        lifted = self.tree.lifted
        for used, value in lifted.items():
            if value is obj:
                return gast.Name(id=used, ctx=gast.Load(), annotation=None, type_comment=None)
        base = getattr(obj, "__name__", None) or type(obj).__name__.lower()
        used = self.tree.namer.fresh(base if base.isidentifier() else "bound")
        lifted[used] = obj
        dict.__setitem__(self.function.namespace, used, obj)
        if isinstance(objects.value_kind(obj), objects.Instance):
            self.function.namespace.watched += objects.instance_dependencies(obj)
        return gast.Name(id=used, ctx=gast.Load(), annotation=None, type_comment=None)

    # -- statements -------------------------------------------------------------

    def collect(self, body, depth):
        for node in body:
            if isinstance(node, gast.Assign):
                target = node.targets[0]
                if isinstance(target, gast.Name):
                    op = self.resolver.op(node.value)
                    self.add(node, target.id, op, depth)
                else:
                    self.check_written(node, target.value.id)
                    op = Op("copy", node.value) if isinstance(node.value, gast.Name) \
                        else Op("zero", node.value)
                    self.add(node, target.value.id, op, depth, write=True)
            elif isinstance(node, gast.Expr) and isinstance(node.value, gast.Call):
                op = self.resolver.op(node.value)
                if op.kind == "method":
                    self.methods.append((node, None))
                receiver = node.value.func.value if isinstance(node.value.func, gast.Attribute) \
                    else None
                first = node.value.args[0] if node.value.args else None
                if op.kind == "append":
                    self.add(node, receiver.id, op, depth, write=True)
                elif op.kind == "rule" and op.primitive in MUTATING \
                        and isinstance(first, gast.Name):
                    self.add(node, first.id, op, depth, write=True)
                elif op.kind == "call" and self.forward:
                    node.op = op
                    self.call_updates(node, op, depth)
                else:
                    node.op = op
            elif isinstance(node, gast.If):
                self.collect(node.body, depth)
                self.collect(node.orelse, depth)
            elif isinstance(node, gast.For):
                self.loop_targets[node.target.id] = self.loop_targets.get(node.target.id, 0) + 1
                self.collect(node.body, depth + 1)
            elif isinstance(node, gast.While):
                self.collect(node.body, depth + 1)

    def add(self, node, target, op, depth, write=False):
        node.op = op
        self.statements.append(Statement(node, target, op, depth, write))
        if op.kind == "method":
            self.methods.append((node, self.statements[-1]))
        if op.kind == "call" and self.forward:
            self.call_updates(node, op, depth)

    def call_updates(self, node, op, depth):
        """In forward mode a called function may update its arguments (srcad's own
        generated code pushes onto a stack it is passed): each argument counts as
        updated by the call (a module-level value it is passed is not: a function srcad
        transforms never writes into one, nor into a function; nor does srcad's generated
        code into an object, its reverse-mode callees refusing to write differentiated
        values into their arguments; the user's functions may write into an array)."""
        for arg in list(op.args) + list(op.keywords.values()):
            kind = self.param_kinds.get(getattr(arg, "id", None), "other")
            constant = objects.is_constant_kind(kind) and (
                self.function.generated or not isinstance(kind, objects.Instance))
            if isinstance(arg, gast.Name) and arg.id in self.locals and kind != "scalar" \
                    and not (kind == "array" and self.function.generated) and not constant:
                self.statements.append(Statement(node, arg.id, op, depth, write=True,
                                                 synthetic=True))

    def check_written(self, node, name):
        """Refuse a write into memory the function does not own: a module-level or
        closure name, or a local bound to one."""
        if name in self.locals and self.resolver.bound_object(name) is UNRESOLVED:
            return
        raise self.function.error(UnsupportedSyntaxError, node,
            f"cannot differentiate a write into '{name}', "
            f"{'bound to ' if name in self.locals else ''}a module-level or closure value: "
            "srcad would undo it when taking the derivative, and reads of it elsewhere "
            "would not see it; write into a copy (v = np.copy(...)), or pass the value in "
            "as an argument")

    def resolve_methods(self, param_kinds):
        """Method calls on local values, resolved with the kinds of their receivers: a
        NumPy method where the receiver is proven an array or number (its kind may
        follow from another method's result, so the two are iterated together), an
        unknown operation elsewhere. A method's result may bind its own receiver
        (`t = t.reshape(...)`): the kinds are first inferred taking the value of each
        method not yet resolved to be of its receiver's kind, then every resolution is
        checked against the kinds of the whole function once all are resolved; if one
        fails, the methods are resolved again from kinds that guess nothing. Returns
        the kinds."""
        methods = [(node, s, node.op) for node, s in self.methods]
        kinds, receivers = self.resolve_pending(param_kinds, methods, optimistic=True)
        if any(self.receiver_kind(op.args[0], kinds) != kind for op, kind in receivers):
            kinds, _ = self.resolve_pending(param_kinds, methods, optimistic=False)
        return kinds

    def resolve_pending(self, param_kinds, methods, optimistic):
        """Resolve methods, (node, statement or None, method Op) each; optimistic: take
        an unresolved method's value to be of its receiver's kind. Returns the kinds
        and the (method Op, receiver kind) each was resolved with."""
        pending, receivers = list(methods), []
        while True:
            guessed = {id(s) for _, s, _ in pending if s is not None} if optimistic else ()
            kinds = self.infer_kinds(param_kinds, guessed)
            proven = [m for m in pending
                      if self.receiver_kind(m[2].args[0], kinds) in ("array", "scalar")]
            for node, s, method in pending if not proven else proven:
                kind = self.receiver_kind(method.args[0], kinds)
                receivers.append((method, kind))
                node.op = self.resolver.method_of(method, kind)
                if s is not None:
                    s.op = node.op
            if not proven:
                return (self.infer_kinds(param_kinds) if optimistic else kinds), receivers
            pending = [m for m in pending if m not in proven]

    def receiver_kind(self, node, kinds):
        """The kind of a method's receiver: "array" also where kinds do not tell but the
        value is proven an ndarray or NumPy scalar (array_valued)."""
        kind = self.kind_of_node(node, kinds)
        if kind == "other" and self.array_valued(node, kinds, {}):
            return "array"
        return kind

    def array_valued(self, node, kinds, known):
        """Whether every assignment of a local makes an ndarray or NumPy scalar: the result
        of a NumPy function, or of an operator on such a value and numbers. known: the
        answers so far, by name (False while one is being found: a cycle proves nothing)."""
        if self.kind_of_node(node, kinds) == "array":
            return True
        if isinstance(node, gast.Name) and node.id in self.params:
            # a parameter without a kind only in code generated to be shown (grad(f).source
            # before any call), which reads its method calls as NumPy's
            return node.id not in self.param_kinds
        if not isinstance(node, gast.Name) or node.id in self.loop_targets:
            return False
        if node.id not in known:
            known[node.id] = False
            sites = [s.op for s in self.statements if s.target == node.id and not s.write]
            known[node.id] = bool(sites) and all(self.makes_array(op, kinds, known)
                                                 for op in sites)
        return known[node.id]

    def makes_array(self, op, kinds, known):
        """Whether an operation's result is an ndarray or NumPy scalar (array_valued)."""
        if op.kind == "rule" and op.primitive in _OPERATORS:
            return all(self.kind_of_node(a, kinds) == "scalar" or _is_number(a)
                       or self.array_valued(a, kinds, known) for a in op.args) \
                and any(self.array_valued(a, kinds, known) for a in op.args)
        if op.kind == "call":
            return self.call_makes_array(op, kinds, known)
        return _makes_array(op)

    def call_makes_array(self, op, kinds, known):
        """Whether a called function returns an ndarray or number, by its own analysis for
        the kinds of this call's arguments."""
        from .generate import runtime_kind
        signature = inspect.signature(op.callee)
        try:
            bound = signature.bind(*op.args, **op.keywords).arguments
        except TypeError:
            return False
        arg_kinds = {}
        for p, param in signature.parameters.items():
            if p in bound:
                arg_kinds[p] = "array" if self.array_valued(bound[p], kinds, known) \
                    else self.kind_of_node(bound[p], kinds)
            elif param.default is not param.empty:
                arg_kinds[p] = runtime_kind(param.default)
        return _returns_array(op.callee, arg_kinds, self.forward)

    # -- activity ---------------------------------------------------------------

    def propagate_varied(self, varied):
        """varied and every variable computed from one of them (not through a zero
        derivative), wherever in the function."""
        return reachable(varied, self.def_use(forward=True))

    def propagate_useful(self, useful):
        """useful and every variable one of them is computed from."""
        return reachable(useful, self.def_use(forward=False))

    def def_use(self, forward):
        """{variable: the targets computed from it} (forward), or {target: the variables
        it is computed from}: the edges through which derivatives flow."""
        edges = {}
        for s in self.statements:
            if s.op.kind != "zero":
                for name, _ in s.op.inputs():
                    source, sink = (name, s.target) if forward else (s.target, name)
                    edges.setdefault(source, set()).add(sink)
        return edges

    def numeric(self):
        """Locals whose every value is numbers, never booleans (whose `+` is an `or`):
        made by a NumPy function that returns no booleans (np.sin, np.sum), a true
        division, or arithmetic with a number or with such a local."""
        found = set()
        sites = {}
        for s in self.statements:
            sites.setdefault(s.target, []).append(s)
        changed = True
        while changed:
            changed = False
            for var, assigned in sites.items():
                if var not in found and var not in self.params and all(
                        not s.write and self.numeric_op(s.op, found) for s in assigned):
                    found.add(var)
                    changed = True
        return found

    def numeric_op(self, op, found):
        p = op.primitive
        if op.kind != "rule" or p is None or isinstance(p, str):
            return False
        if p in (operator.truediv, np.true_divide, np.sum, np.mean, np.prod, operator.neg):
            return True     # (`-` of booleans raises; of a bool, it is an int)
        if isinstance(p, np.ufunc):
            if not any(t.endswith("?") for t in p.types):
                return True
        elif p not in _ARITHMETIC:
            return False
        return any(isinstance(a, gast.Constant) and type(a.value) in (int, float, complex)
                   or isinstance(a, gast.Name) and a.id in found for a in op.args)

    def check_unknown_ops(self):
        self.check_outputs_into_arrays()
        if not self.forward:
            self.check_mutating_helpers()
        for s in self.statements:
            if s.op.kind == "unknown" and s.target in self.active:
                inputs = [n for n, _ in s.op.inputs() if n in self.varied]
                if inputs:
                    self.refuse_no_derivative(s.node, s.op, inputs)
        for node in walk(self.tree):
            op = getattr(node, "op", None)
            if isinstance(node, gast.Expr) and isinstance(op, Op) and op.kind == "unknown" \
                    or isinstance(node, gast.Expr) and isinstance(op, Op) and op.kind == "call" \
                    and not self.forward:
                receiver = node.value.func.value if isinstance(node.value.func, gast.Attribute) \
                    else None
                varied = [n for n, _ in op.inputs() if n in self.varied]
                if isinstance(receiver, gast.Name) and receiver.id in self.varied:
                    varied.append(receiver.id)
                if varied:
                    raise self.function.error(UnsupportedSyntaxError, node,
                        f"cannot differentiate {op.description} called for its effect on "
                        f"'{varied[0]}': srcad does not follow in-place updates made by "
                        "calls; return the new value and assign it")

    def operations(self):
        """(node, op, target) of each operation: the statements' (target: the variable
        assigned or updated), and calls made for their effect (target None)."""
        seen = {id(st.node) for st in self.statements}
        return [(st.node, st.op, st.target) for st in self.statements] + \
            [(n, n.op, None) for n in walk(self.tree) if isinstance(n, gast.Expr)
             and isinstance(getattr(n, "op", None), Op) and id(n) not in seen]

    def check_outputs_into_arrays(self):
        """Refuse a NumPy call that writes its result into an array it is given (`out=b`,
        `np.sin(x, b)`, `x.conj(b)`), differentiated or not: srcad follows values by name,
        and would not see b change."""
        for node, op, target in self.operations():
            if op.kind in ("method", "unknown") and target is not None \
                    and target not in self.active:   # (else refused as not proven)
                self.check_method_arguments(node, op)
            if op.kind != "rule":
                continue
            out = op.keywords.get("out")
            extra = isinstance(op.primitive, np.ufunc) and len(op.args) > op.primitive.nin
            if extra or out is not None and not (isinstance(out, gast.Constant)
                                                 and out.value is None):
                raise self.function.error(UnsupportedSyntaxError, node,
                    f"cannot differentiate {op.description} writing its result into an array "
                    "it is given (out=...): srcad follows values by name, not by memory; "
                    "assign the result instead (`b = np.sin(x)`)")

    def check_method_arguments(self, node, op):
        """A method srcad cannot resolve (its receiver's type is known only when it runs)
        may write into an array it is passed (`y.conj(b)`, `y.sum(0, None, b)`): refused
        where that is a differentiated value, or where what it writes may be one (its
        receiver is)."""
        call = op.node if isinstance(op.node, gast.Call) else getattr(node, "value", None)
        if not isinstance(call, gast.Call) or not isinstance(call.func, gast.Attribute) \
                or not isinstance(call.func.value, gast.Name) \
                or call.func.value.id not in self.locals:
            return      # not a method of a local value
        arrays = [a for a in list(call.args) + [k.value for k in call.keywords]
                  if isinstance(a, gast.Name) and self.kinds.get(a.id) != "scalar"]
        receiver = call.func.value.id
        for a in arrays:
            if receiver in self.varied or a.id in self.varied:
                what = "a differentiated value" if a.id in self.varied else \
                    f"an array, with a value computed from the differentiated '{receiver}'"
                raise self.function.error(UnsupportedSyntaxError, node,
                    f"cannot differentiate {op.description or 'this method call'}: srcad "
                    f"cannot prove which method runs, and it is passed '{a.id}', {what} "
                    "it may write into (an out argument); call the NumPy function "
                    "instead, and assign its result")

    def effect_targets(self):
        """The names a call may update in place: those a call made for its effect is
        passed (`W.sort()`, `np.copyto(W, v)`: its receiver and arguments), and those
        a method or function srcad cannot resolve is passed, its result used or not
        (`c = y.conj(d)` writes into d where y is an ndarray)."""
        targets = set()
        for node, op, _ in self.operations():
            call = getattr(node, "value", None)
            if isinstance(call, gast.Call) and (op.kind in ("method", "unknown") or
                                                isinstance(node, gast.Expr) and op.kind == "rule"):
                for a in list(call.args) + [k.value for k in call.keywords] + \
                        ([call.func.value] if isinstance(call.func, gast.Attribute) else []):
                    if isinstance(a, gast.Name):
                        targets.add(a.id)
        return targets

    def check_mutating_helpers(self):
        """Refuse srcad's own in-place helpers (add_at, take_at, ...) on a varied value:
        only forward mode, running through generated gradients, follows their writes."""
        for node, op, _ in self.operations():
            value = node.value
            if not isinstance(value, gast.Call) or not value.args \
                    or not isinstance(value.args[0], gast.Name) \
                    or value.args[0].id not in self.varied:
                continue
            if op.kind == "rule" and op.primitive in MUTATING:
                raise self.function.error(NoDerivativeError, node,
                    f"cannot differentiate {op.description} in reverse mode: it writes into "
                    f"'{value.args[0].id}' in place; it is a helper of srcad's generated "
                    "code, not for use in differentiated functions")

    def refuse_no_derivative(self, node, op, inputs):
        if op.reason:
            raise self.function.error(NoDerivativeError, node,
                f"no derivative for {op.description} (applied to '{inputs[0]}', which "
                f"depends on a differentiated input): {op.reason}")
        raise self.function.error(NoDerivativeError, node,
            f"no derivative rule for {op.description or 'this operation'} "
            f"(applied to '{inputs[0]}', which depends on a differentiated input): "
            "register one with @srcad.adjoint, or wrap the value in srcad.stop_gradient")

    # -- kinds ------------------------------------------------------------------

    def infer_kinds(self, param_kinds, guessed=()):
        """The kind of each local, joined over its assignments; a method call whose
        statement's id is in guessed is taken to return its receiver's kind."""
        kinds = dict(param_kinds)
        for name in self.loop_targets:
            kinds[name] = "scalar"
        sites = collections.Counter(s.target for s in self.statements)
        self.shape_tuples = {       # a local assigned once `x.shape` -> that expression
            s.target: s.op.node for s in self.statements
            if sites[s.target] == 1 and not s.write and s.op.kind == "zero"
            and isinstance(s.op.node, gast.Attribute) and s.op.node.attr == "shape"
            and s.target not in self.params and s.target not in self.loop_targets}
        changed = True
        while changed:
            changed = False
            for s in self.statements:
                if id(s) in guessed:
                    new = self.kind_of_node(s.op.args[0], kinds)
                elif s.write:
                    new = kinds.get(s.target, "other")
                else:
                    new = self.kind_of(s.op, kinds)
                old = kinds.get(s.target)
                joined = new if old is None or old == new else "other"
                if joined != old:
                    kinds[s.target] = joined
                    changed = True
        return kinds

    def kind_of_node(self, node, kinds):
        if isinstance(node, gast.Constant):
            value = node.value
            return "scalar" if isinstance(value, (int, float)) else "other"
        if isinstance(node, gast.Name):
            return kinds.get(node.id, "other") if node.id in self.locals else "other"
        return "other"

    def of_shape(self, node):
        """`x.shape` where node is `x.shape[i]` (or `s[i]`, s assigned once `x.shape`) for
        a constant int i, else None."""
        value, index = node.value, node.slice
        if isinstance(value, gast.Name):
            value = self.shape_tuples.get(value.id, value)
        if isinstance(value, gast.Attribute) and value.attr == "shape" \
                and isinstance(value.value, gast.Name) \
                and isinstance(index, gast.Constant) and type(index.value) is int:
            return value
        return None

    def array_count(self, node, kinds):
        """Whether node is `x.size`, `x.ndim` or `x.nbytes` of an ndarray x: a Python int."""
        return isinstance(node, gast.Attribute) and node.attr in ("size", "ndim", "nbytes") \
            and self.kind_of_node(node.value, kinds) == "array"

    def argument_kind(self, node, kinds):
        """The kind of a value passed to a call: a local's, else that of the constant
        object a global or attribute name is bound to (a number, a function...)."""
        kind = self.kind_of_node(node, kinds) if isinstance(node, gast.AST) else "other"
        if kind == "other" and isinstance(node, (gast.Name, gast.Attribute)):
            value = self.resolver.constant(node)
            kind = "other" if value is UNRESOLVED else objects.value_kind(value)
            return kind if objects.is_constant_kind(kind) else "other"
        return kind

    def parameter_kinds(self, bound, kinds):
        """The kinds of a called function's parameters at a call (bound: its arguments
        bound to its signature): an argument's, else its default value's."""
        from .generate import runtime_kind
        found = {}
        for p, param in bound.signature.parameters.items():
            if p in bound.arguments:
                found[p] = self.argument_kind(bound.arguments[p], kinds)
            elif param.default is not param.empty:
                found[p] = runtime_kind(param.default)
        return found

    def call_kind(self, op, kinds):
        """The kind a called user function returns for the kinds of this call's
        arguments, by its own analysis: "scalar" or "array", else "other"."""
        from .wrappers import call_signature
        try:
            bound = call_signature(op.callee).bind(*op.args, **op.keywords)
        except (TypeError, ValueError):
            return "other"
        arg_kinds = self.parameter_kinds(bound, kinds)
        key = (op.callee, tuple(sorted(arg_kinds.items(), key=str)))
        if key not in self.returned_kinds:
            self.returned_kinds[key] = _returned_kind(op.callee, arg_kinds, self.forward)
        return self.returned_kinds[key]

    def callee_analysis(self, op):
        """The called user function's own Analysis for the kinds of this call's arguments,
        where each default it takes is real numbers (dtypes.real_function); else None."""
        from .dtypes import real_value
        from .wrappers import call_signature
        try:
            bound = call_signature(op.callee).bind(*op.args, **op.keywords)
        except (TypeError, ValueError):
            return None
        if not all(real_value(param.default) for p, param in bound.signature.parameters.items()
                   if p not in bound.arguments and param.default is not param.empty):
            return None
        probe = _probe(op.callee, self.parameter_kinds(bound, self.kinds), self.forward)
        return probe[0] if probe is not None else None

    def kind_of(self, op, kinds):
        if op.kind == "copy":
            return self.kind_of_node(op.node, kinds)
        if op.kind == "call":
            return self.call_kind(op, kinds)
        if op.kind == "zero":
            if isinstance(op.node, gast.Constant):
                return self.kind_of_node(op.node, kinds)
            if op.primitive is builtins.len or self.array_count(op.node, kinds):
                return "scalar"     # a Python int
            operands = _operands(op.node)
            if (getattr(op.primitive, "__module__", None) in ("_operator", "operator")
                    or op.primitive in (builtins.int, builtins.round)) and operands \
                    and all(self.kind_of_node(a, kinds) == "scalar" for a in operands):
                return "scalar"     # n // 2, int(x) of numbers
            module = getattr(op.primitive, "__module__", None) or ""
            return "array" if module.split(".")[0] == "numpy" else "other"
        if op.kind == "subscript":
            value = self.of_shape(op.node)
            if value is not None and self.kind_of_node(value.value, kinds) == "array":
                return "scalar"     # x.shape[i], a Python int
            return "array" if self.kind_of_node(op.node.value, kinds) == "array" else "other"
        if op.kind != "rule" or op.primitive in CONTAINERS:
            return "other"
        wrt = getattr(op.primitive, "wrt_names", None)
        if wrt is not None:     # a call of a gradient srcad made: the kind of what it is of
            single = not op.primitive.multi and wrt[0] in op.bindings
            return self.kind_of_node(op.bindings[wrt[0]], kinds) if single else "other"
        arg_kinds = [self.kind_of_node(n, kinds) for n in op.bindings.values()
                     if not (isinstance(n, gast.Constant) and n.value is None)]
        arg_kinds = [k if k in ("scalar", "array") else "other" for k in arg_kinds]
        if _makes_array(op):    # a NumPy function reads a list or tuple as an array
            arg_kinds = ["array" if k == "other" else k for k in arg_kinds]
        primitive = op.primitive
        if primitive in REDUCTIONS and not op.keywords and len(op.args) == 1:
            return "scalar" if arg_kinds[0] in ("scalar", "array") else "other"
        if "other" in arg_kinds:
            return "other"
        elementwise = isinstance(primitive, np.ufunc) or primitive in REDUCTIONS or \
            getattr(primitive, "__module__", None) in ("math", "_operator", "operator") or \
            primitive in (builtins.abs, builtins.float, builtins.max, builtins.min)
        if elementwise and all(k == "scalar" for k in arg_kinds):
            return "scalar"
        module = getattr(primitive, "__module__", None) or ""
        if module == "math" or primitive is builtins.float or primitive == "ndarray.item":
            return "scalar"         # a Python number (x.item() has no shape)
        # a function of the user's with a custom rule may return anything
        return "other" if module and module.split(".")[0] not in KNOWN_MODULES else "array"

    # -- recording --------------------------------------------------------------

    def count_sites(self):
        sites = {p: 1 for p in self.params}
        in_loop = set()
        for s in self.statements:
            if s.write:
                continue
            sites[s.target] = sites.get(s.target, 0) + 1
            if s.loop_depth:
                in_loop.add(s.target)
        for name, count in self.loop_targets.items():
            sites[name] = sites.get(name, 0) + count
        return sites, in_loop

    def overwritten(self, name, in_loop, node=None):
        """Whether an assignment to name (the statement node, if given) may overwrite a
        value the adjoint still needs. The textually first assignment of a local outside
        loops overwrites nothing: no run has bound the name before it; nor does that of
        an invariant, which assigns the value it had."""
        if node is not None and not in_loop and name not in self.params \
                and self.first_assignment.get(name) is node:
            return False
        if self.invariant is None:
            self.invariant = self.invariant_locals()
        if name in self.invariant:
            return False
        return self.sites.get(name, 0) > 1 or in_loop or name in self.in_loop

    def fixed_params(self):
        """Parameters that no statement assigns or writes into: the same value throughout
        (an array's contents may still change through a second name; not its shape)."""
        assigned = {s.target for s in self.statements}
        return {p for p in self.params if p not in self.loop_targets and p not in assigned}

    def touched(self):
        """Names whose contents a statement may change, or that a second name, a container
        or a called function may hold (a number may be a 0-d array): all but those read
        only as operands of pure operations, whose results are new."""
        from .optimize import pure
        from .recompute import READERS
        reads_only = {id(s.node) for s in self.statements if not s.write and (
            s.op.kind == "rule" and pure(s.op) or s.op.kind == "zero" and (
                pure(s.op) or getattr(s.op, "primitive", None) in READERS)
            or s.op.kind == "subscript" and self.of_shape(s.op.node))}
        views = {id(s.node): s for s in self.statements
                 if s.op.kind == "subscript" and not s.write}
        touched = set()
        for node in walk(self.tree):
            if id(node) in reads_only or node is self.tree:
                continue
            if id(node) in views:       # the new name holds the base; an index is an int
                touched |= {views[id(node)].target} | names_in(node.value.value, gast.Load)
            elif isinstance(node, gast.stmt):
                parts = [getattr(node, f, None)
                         for f in ("targets", "target", "value", "test", "iter")]
                touched |= {n.id for part in parts for item in
                            (part if isinstance(part, list) else [part]) if item is not None
                            for n in walk(item) if isinstance(n, gast.Name)}
        return touched

    def invariant_locals(self):
        """Locals, not differentiated, assigned by one statement that computes the same
        value each time it runs (`mul = 2 * b` in a loop, b = x.shape[1]): a number
        nothing touches or a range, by a pure operation on constants, globals, untouched
        numbers among the fixed parameters, the shapes of any of them, and other
        invariant locals."""
        fixed, touched = self.fixed_params(), self.touched()
        numbers = {p for p in fixed - touched if self.kinds.get(p) == "scalar"}
        definitions = {}
        for s in self.statements:
            definitions.setdefault(s.target, []).append(s)
        candidates = {t: ss[0] for t, ss in definitions.items()
                      if len(ss) == 1 and not ss[0].write and t not in self.params
                      and t not in self.loop_targets and t not in self.active
                      and (t not in touched or self.kinds.get(t) != "scalar")}
        invariant, changed = set(), True
        while changed:
            changed = False
            for target, s in candidates.items():
                if target not in invariant and self.same_each_time(s, fixed, numbers,
                                                                   invariant):
                    invariant.add(target)
                    changed = True
        return invariant

    def same_each_time(self, s, fixed, numbers, invariant):
        from .optimize import pure
        op, value = s.op, s.node.value
        primitive = getattr(op, "primitive", None)
        sizes = [n for n in walk(value) if isinstance(n, gast.Attribute)
                 and n.attr in ("shape", "size", "ndim") and isinstance(n.value, gast.Name)]
        if value in sizes:      # x.shape: no write changes it
            return value.value.id in fixed | invariant
        if not (self.kinds.get(s.target) == "scalar" and (pure(op) or op.kind == "subscript")
                or primitive in (builtins.range, builtins.len)):
            return False
        shapes_of = {id(n.value) for n in sizes}
        return all(n.id not in self.locals or n.id in invariant or n.id in numbers
                   or n.id in fixed and (id(n) in shapes_of or primitive is builtins.len)
                   for n in walk(value) if isinstance(n, gast.Name)
                   and isinstance(n.ctx, gast.Load))

    def runs_as_is(self, node):
        """Whether the call of the user's function in the statement node runs as it is,
        not transformed: where its result is not differentiated (in forward mode, nor an
        argument passed to it by position)."""
        target = node.targets[0].id if isinstance(node, gast.Assign) else None
        if not self.forward:
            return target not in self.active
        return target is not None and target not in self.active and not any(
            isinstance(a, gast.Name) and a.id in self.active for a in node.op.args)

    # -- in-place writes ----------------------------------------------------------

    def check_in_place_writes(self, is_callee):
        """Refuse writes srcad cannot follow: through a second name for the same
        memory (see aliasing.py), or into an argument of a called function."""
        if not self.function.generated:    # srcad's own code shares memory only safely
            check_sharing(self, is_callee)
        if not is_callee or self.forward:
            return
        for s in self.statements:
            if s.write and not s.synthetic and s.target in self.params \
                    and s.target in self.varied:
                raise self.function.error(UnsupportedSyntaxError, s.node,
                    f"cannot differentiate an in-place update of the argument '{s.target}' "
                    "inside a called function: return the new value instead")


# NumPy functions that return a tuple or list (of arrays, or of ints).
NOT_ARRAYS = {"split", "array_split", "hsplit", "vsplit", "dsplit", "meshgrid",
              "broadcast_arrays", "nonzero", "unravel_index", "shape", "modf", "frexp",
              "divmod", "histogram", "histogram2d", "histogramdd", "gradient", "unique",
              "atleast_1d", "atleast_2d", "atleast_3d", "eig", "eigh", "svd", "qr",
              "slogdet", "lstsq", "polyfit", "where"}


def _operands(node):
    """The operands of an operator's or a call's node (none for a call with keywords)."""
    if isinstance(node, gast.BinOp):
        return [node.left, node.right]
    if isinstance(node, gast.UnaryOp):
        return [node.operand]
    if isinstance(node, gast.Call) and not node.keywords:
        return node.args
    return []


def _makes_array(op):
    """Whether an operation's result is an ndarray or NumPy scalar: a NumPy function's,
    but for those that return tuples (np.where only with one argument)."""
    if op.kind not in ("rule", "zero") or op.primitive is None or op.primitive in CONTAINERS:
        return False
    primitive = op.primitive
    if isinstance(primitive, str):      # an ndarray method's rule
        return primitive.startswith("ndarray.")
    module = getattr(primitive, "__module__", None) or ""
    if not (isinstance(primitive, np.ufunc) or module.split(".")[0] == "numpy"):
        return False
    name = getattr(primitive, "__name__", "")
    return name not in NOT_ARRAYS or name == "where" and len(op.args) == 3


_OPERATORS = set(OPERATORS.values())
# operators whose result is numbers where an operand is (no comparison, no bit operation)
_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.pow, operator.matmul,
               operator.neg, operator.pos, operator.floordiv, operator.mod}


_PROBED = set()     # functions whose result kind is being found: a recursion proves nothing


def _probe(fn, param_kinds, forward):
    """fn's own Analysis where its parameters have these kinds, and the node it returns;
    None where fn is refused (it is where the call is transformed, if it is) or is being
    probed already (a recursion proves nothing)."""
    from .normalize import normalize
    from .parse import parse_function
    if fn in _PROBED:
        return None
    _PROBED.add(fn)
    try:
        function = parse_function(fn)
        analysis = Analysis(function, normalize(function), [], param_kinds, True, forward)
    except SrcadError:
        return None
    finally:
        _PROBED.discard(fn)
    return analysis, analysis.tree.body[-1].value


def _returns_array(fn, param_kinds, forward):
    """Whether fn returns an ndarray or a number where its parameters have these kinds."""
    probe = _probe(fn, param_kinds, forward)
    return probe is not None and \
        probe[0].receiver_kind(probe[1], probe[0].kinds) in ("array", "scalar")


def _returned_kind(fn, param_kinds, forward):
    """The kind of what fn returns where its parameters have these kinds: "scalar" or
    "array" as fn's own analysis finds it, else "other"."""
    probe = _probe(fn, param_kinds, forward)
    kind = probe[0].kind_of_node(probe[1], probe[0].kinds) if probe is not None else "other"
    return kind if kind in ("scalar", "array") else "other"


def _is_number(node):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float, complex)


def _assignments(tree, params):
    """{local: the values assigned to it by `=`}, with None for a binding of another
    kind (a parameter, a loop variable)."""
    found = {p: [None] for p in params}
    for node in walk(tree):
        if isinstance(node, gast.Assign):
            target = node.targets[0]
            if isinstance(target, gast.Name):
                found.setdefault(target.id, []).append(node.value)
        elif isinstance(node, gast.For):
            found.setdefault(node.target.id, []).append(None)
    return found


def _returned_name(tree):
    last = tree.body[-1]
    if isinstance(last, gast.Return) and isinstance(last.value, gast.Name):
        return last.value.id
    return None

