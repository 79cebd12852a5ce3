"""Stage 5 (reverse mode): a normalized function to a primal and an adjoint function.

The primal runs the user's statements and pushes onto `stack` what the
adjoint will need: the old value of a variable about to be overwritten, the
old contents of an array element about to be written, a branch decision
that cannot be recomputed, a loop's trip count. It ends by pushing the final
values of the variables the adjoint reads.

The adjoint pops those final values, then walks the statements backwards.
For each one it adds the gradient of the result to the gradients of the
arguments (using the derivative rule, inlined), then restores what the
statement overwrote. So at every point of the backward walk each variable
holds the value it had at the same point of the forward run.

Every push starts out paired with its pop; `prune` then drops the pairs that
record values the adjoint never reads.
"""
import builtins
import functools

import numpy

import gast

from . import rules, runtime
from .errors import NoDerivativeError, UnsupportedSyntaxError
from .aliasing import may_share
from .dtypes import FLOATING, floating_check, floating_names, real_function
from .generate import GeneratedModule, Generator, call_keywords, is_marker
from .optimize import ScattersInPlace, clean, lean_primal, optimize, optimize_seeded, \
    parts_left_as_they_are, remove_dead_stores, tidy, views_of_parts
from .recompute import recomputed_test
from .rules.numpy import returns_fresh
from .shapes import broadcast, matmul_shape
from .syntax import assign, call, const, copy, name, names_in, walk

SHAPE_ONLY = {  # runtime helper -> positions of arguments read only for their shape
    runtime.unbroadcast: (1,), runtime.repeat_to_shape: (1,), runtime.reduced_size: (0, 1),
    runtime.add_at: (1,), runtime.pop_grad: (1,), runtime.sequence_grad: (1,),
}


SHARES_ONLY = {  # runtime helper -> the arguments its result may share memory with
    runtime.add_at: (0, 3),     # (a list's total holds the gradient added itself)
    runtime.accumulate: (0,), runtime.seed_copy: (), runtime.copy_value: (),
    runtime.part_of: (),
}


def tagged(node, tag):
    node.srcad_tag = tag
    return node


def tag_of(node):
    return getattr(node, "srcad_tag", None)


class ReverseFunction(Generator):
    """The primal and adjoint of one user function, for one set of argument kinds."""

    def __init__(self, module, function, tree, wrt, param_kinds, names, is_callee, shapes,
                 real=False, floating=frozenset()):
        super().__init__(module, function, tree, wrt, param_kinds, is_callee, shapes)
        self.real_params, self.floating_params = real, floating
        self.primal_name, self.adjoint_name = names
        self.loop_depth = 0
        self.adjoint_locals = set()   # names bound by `with grad_of` blocks, adjoint only
        self.stack = self.namer.fresh("stack")
        self.seeded_def = None  # the adjoint for grad, seeded with 1.0 (adjoint_def)
        self.fused = False      # whether f_grad runs the primal and adjoint as one
        self.gives = []     # a callee's: which gradients its adjoint returns are more than 0.0

    def push_stmt(self, value, tag):
        method = gast.Attribute(value=name(self.stack), attr="append", ctx=gast.Load())
        return tagged(gast.Expr(value=call(method, value)), tag)

    def pop_expr(self):
        return call(gast.Attribute(value=name(self.stack), attr="pop", ctx=gast.Load()))

    # -- the two functions ----------------------------------------------------------

    def build(self):
        body = self.tree.body
        result = body[-1].value
        primal, adjoint = self.block(body[:-1])
        returned = result.id if isinstance(result, gast.Name) else None
        if returned in self.active:
            seed = self.grad(returned)
        else:
            seed = self.namer.fresh("doutput")
        final_push = self.push_stmt(gast.Tuple(elts=[], ctx=gast.Load()), ("final",))
        final_pop = tagged(assign(gast.Tuple(elts=[], ctx=gast.Store()), self.pop_expr()),
                           ("final",))
        self.primal_body = primal + [final_push]
        self.adjoint_body = adjoint
        self.result = result
        self.returned = returned
        self.seed = seed
        self.final = (final_push, final_pop)
        self.prune()
        if self.module.trace is not None:
            self.module.after("reverse", self.function.fn.__qualname__, [
                _function(self.primal_name, self.primal_args(),
                          self.primal_body + [gast.Return(value=self.result)]),
                _function(self.adjoint_name, _parameters([self.stack, self.seed]),
                          self.adjoint_body)])
        adjoint = self.adjoint_def()    # first: it narrows the final tuple to what it reads
        return self.primal_def(), adjoint

    def gradient_def(self, name_):
        """`f_grad(*args)`: the primal (for grad), then the adjoint seeded with 1.0 (a
        scalar output), gradients shaped like their arguments; the two as one function
        where they run straight through (fused_body). It is what srcad differentiates
        when a transform is applied to a gradient."""
        args = copy(self.tree.args)
        params = [a.id for a in args.posonlyargs + args.args]
        shape = self.runtime("as_gradient")
        fused = self.fused_body(params + [a.id for a in args.kwonlyargs])
        self.fused = fused is not None
        if self.fused:
            body, returned = fused
            grads = returned.elts if len(self.wrt) > 1 else [returned]
            shaped = [call(copy(shape), g, name(p)) for g, p in zip(grads, self.wrt)]
            result = shaped[0] if len(shaped) == 1 else gast.Tuple(elts=shaped, ctx=gast.Load())
            return _function(name_, args, body + [gast.Return(value=result)])
        stack = name(self.stack, store=True)
        lean = self.lean_def
        run = gast.Call(func=name(self.primal_name if lean is None else lean.name),
                        args=[name(self.stack)] + [name(p) for p in params],
                        keywords=[gast.keyword(arg=a.id, value=name(a.id))
                                  for a in args.kwonlyargs])
        run = gast.Expr(value=run) if lean is not None else assign("_", run)
        grads = call(name(self.seeded_name), name(self.stack)) if self.seeded_def \
            else call(name(self.adjoint_name), name(self.stack), const(1.0))
        start = [assign(stack, gast.List(elts=[], ctx=gast.Load())), run]
        if len(self.wrt) == 1:
            result = call(shape, grads, name(self.wrt[0]))
            body = start + [gast.Return(value=result)]
        else:
            grads_name = self.namer.fresh("grads")
            result = gast.Tuple(elts=[call(copy(shape), gast.Subscript(
                value=name(grads_name), slice=const(i), ctx=gast.Load()), name(p))
                for i, p in enumerate(self.wrt)], ctx=gast.Load())
            body = start + [assign(grads_name, grads), gast.Return(value=result)]
        return _function(name_, args, body)

    def fused_body(self, params):
        """f_grad's statements where the primal of a scalar function runs straight through
        and records one tuple, last, that the seeded adjoint takes back first: the two as
        one, with no stack; and the adjoint's returned value. None where they differ."""
        adjoint = self.seeded_def.body if self.seeded_def is not None else None
        if not adjoint or not isinstance(adjoint[-1], gast.Return) or \
                self.kinds.get(self.returned) != "scalar" or any(
                not isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr))
                for s in self.definitions[0].body[:-1]):
            return None
        primal = lean_primal(self.definitions[0], "", worth=lambda stmt: True)
        primal = (primal or self.definitions[0]).body[:-1]     # without its return
        push = [s for s in primal if self.stack in names_in(s)]
        pop = [s for s in adjoint if self.stack in names_in(s)]
        recorded = [] if not push else self.taken_back(push, pop, primal, adjoint)
        if recorded is None or (not push and pop):
            return None
        primal = [s for s in primal if s not in push]
        adjoint = [s for s in adjoint[:-1] if s not in pop]
        end = self.seeded_def.body[-1]
        if len(self.wrt) > 1 and not (isinstance(end.value, gast.Tuple)
                                      and len(end.value.elts) == len(self.wrt)):
            return None
        stored = set(params).union(*(names_in(s, gast.Store) for s in primal))
        free = set().union(*(names_in(s, gast.Load) for s in adjoint + [end]))
        free -= set().union(*(names_in(s, gast.Store) for s in adjoint))
        if free & (stored - set(recorded)) or any(
                p in names_in(s, gast.Store) for s in primal + adjoint for p in self.wrt):
            return None     # a name the adjoint reads from outside, or a rebound argument
        return clean(primal + adjoint), end.value     # statements shared, as lean_primal's

    def taken_back(self, push, pop, primal, adjoint):
        """The names the one tuple the primal records last holds, where the adjoint's
        first statement takes them back under the same names; else None."""
        last = [s for s in primal if not is_marker(s)][-1]
        first = [s for s in adjoint if not is_marker(s)][0]
        if push != [last] or pop != [first] or not _method_call(last, "append") or \
                not _method_call(first, "pop"):
            return None
        value, target = last.value.args[0], first.targets[0]
        recorded = value.elts if isinstance(value, gast.Tuple) else [value]
        taken = target.elts if isinstance(target, gast.Tuple) else [target]
        if not all(isinstance(n, gast.Name) for n in recorded + taken) or \
                [n.id for n in recorded] != [n.id for n in taken]:
            return None
        return [n.id for n in recorded]

    def primal_args(self):
        """The function's parameters, after `stack`."""
        args = copy(self.tree.args)
        (args.posonlyargs or args.args).insert(0, name(self.stack, store=False).__class__(
            id=self.stack, ctx=gast.Param(), annotation=None, type_comment=None))
        return args

    def primal_def(self):
        args = self.primal_args()
        head = [] if self.is_callee else [      # the caller's arrays stay as they were
            assign(p, call(self.runtime("copy_value"), name(p))) for p in self.written_params()]
        inits = [assign(v, const(None)) for v in self.unbound_before_push()]
        value = self.result
        if self.restores_in_place() and self.kinds.get(self.returned) != "scalar":
            value = call(self.runtime("copy_value"), value)
        body = head + inits + self.primal_body + [gast.Return(value=value)]
        return _function(self.primal_name, args, body)

    def adjoint_def(self):
        args = _parameters([self.stack, self.seed])
        head = []
        final_pop = self.final[1]
        if final_pop.targets[0].elts:
            head.append(final_pop)
        inits = [assign(self.grad(v), const(0.0)) for v in self.sorted_active()
                 if v != self.returned]
        grads = [name(self.grad(p)) if p in self.active else const(0.0) for p in self.wrt]
        value = grads[0] if len(grads) == 1 and not self.module.tuple_result(self) \
            else gast.Tuple(elts=grads, ctx=gast.Load())
        in_place = {self.grad(v) for v in self.analysis.in_place if v in self.active}
        body = inits + self.adjoint_body + [gast.Return(value=value)]
        shapes, numeric = AdjointShapes(self), self.analysis.numeric()
        floating = {v for v in self.active if self.kinds.get(v) in ("scalar", "array")
                    and v not in self.analysis.in_place}
        floating |= {self.grad(v) for v in floating}
        scalars = set()
        body = optimize(body, self.gradients.values(), in_place, self.helpers, shapes,
                        seeds=(self.seed,),
                        nonzero=lambda dy: call(self.runtime("nonzero_gradient"), name(dy)),
                        seed_or_zeros=self.seed_or_zeros, numeric=numeric,
                        floating=floating, scalars=scalars, returned=self.callee_gives,
                        gives=self.gives if self.is_callee else None)
        parts_left_as_they_are(body, self.helpers, lambda: self.runtime("part_of").id)
        if self.returned in self.active and self.returned in self.analysis.in_place \
                and not _read_in_parts_only(body, self.seed, self.helpers):
            head.append(assign(self.seed, call(self.runtime("seed_copy"), name(self.seed))))
        self.read_shapes_of_kept(body)
        self.narrow_final(body, head)
        seeded = self.seeded(body, in_place)
        self.unshare_returned(body)
        body = self.scatter_in_place(body)
        self.read_parts_as_views(body)
        if seeded is not None:
            seeded = optimize_seeded(seeded, self.gradients.values(), in_place, self.helpers,
                                     shapes, scalars, numeric, floating)
            self.unshare_returned(seeded)
            seeded = self.scatter_in_place(seeded)
            self.seeded_def = _function(self.seeded_name, _parameters([self.stack]),
                                        copy(head) + seeded)
        return _function(self.adjoint_name, args, head + body)

    @functools.cached_property
    def real(self):
        """Whether every value is real numbers, and so every gradient: then parts of arrays
        are added in place (ScattersInPlace)."""
        return self.real_params and real_function(self.analysis)

    def callee_gives(self, node):
        """Which gradients a call of a called function's adjoint gives are more than the
        zero 0.0, as its own optimized adjoint found (None while it is being built)."""
        callee = self.helpers.get(node.func.id) if isinstance(node.func, gast.Name) else None
        if isinstance(callee, ReverseFunction) and node.func.id == callee.adjoint_name:
            return tuple(callee.gives) or None
        return None

    def scatter_in_place(self, body):
        """Gradients of parts of arrays written into arrays in place, where every value is
        real numbers (optimize.ScattersInPlace)."""
        add_at = next((n for n, h in self.helpers.items() if h is runtime.add_at), None)
        if not self.real or add_at is None:
            return body
        arrays = {v for v, shape in self.shapes.items() if shape and self.kinds.get(v) == "array"}
        zeros = lambda x: call(gast.Attribute(value=name(self.helper("np", numpy)), attr="zeros",
                                              ctx=gast.Load()),
                               gast.Attribute(value=name(x), attr="shape", ctx=gast.Load()))
        gradients = set(self.gradients.values())
        # nothing is known zero before its `dx = 0.0` (the returned value's is the seed)
        ScattersInPlace(add_at, arrays, zeros, self.basic_index).block(
            body, (frozenset(), frozenset()))
        return tidy(remove_dead_stores(body, gradients))     # the zeros 0.0 replaced

    def read_parts_as_views(self, body):
        """A called function's seed's parts read as views (optimize.views_of_parts)."""
        part = next((n for n, h in self.helpers.items() if h is runtime.part_of), None)
        if self.is_callee and part is not None and self.kinds.get(self.returned) == "array":
            views_of_parts(body, part, self.seed)

    def basic_index(self, node):
        """Whether an index node is basic: an int, a scalar local, a slice of them or None,
        None, ..., or a tuple of these (never an array: no index repeats)."""
        if isinstance(node, gast.Constant):
            return node.value is None or node.value is Ellipsis or type(node.value) is int
        if isinstance(node, gast.Name):
            return self.kinds.get(node.id) == "scalar"
        if isinstance(node, gast.Tuple):
            return all(self.basic_index(e) for e in node.elts)
        return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
            and node.func.id == "slice" and "slice" not in self.kinds \
            and self.helpers.get("slice", slice) is slice and not node.keywords \
            and len(node.args) <= 3 and all(self.basic_index(a) for a in node.args)

    def seeded(self, body, in_place):
        """A copy of the optimized adjoint's body for grad, whose seed is always 1.0: the
        seed's reads are the constant, for optimize_seeded to fold (`dsum = dmul * 0.5`
        becomes 0.5, and `0.5 * (b + b)` becomes b). None for a callee, for an output
        not known to be a scalar, and where the seed is updated in place, reassigned or
        read nowhere."""
        seed = self.seed
        if self.is_callee or self.kinds.get(self.returned) != "scalar" or seed in in_place:
            return None
        reads = [n for s in body for n in walk(s) if isinstance(n, gast.Name) and n.id == seed]
        if not reads or any(not isinstance(n.ctx, gast.Load) for n in reads):
            return None
        return [_SeedOne(seed).visit(copy(s)) for s in body]

    def seed_or_zeros(self, dy, y):
        """`seed_or_zeros(dy, y)` for a called function's adjoint, where the call's result y
        is recorded for the adjoint (else None: its value there is not known)."""
        if y not in self.recorded:
            return None
        return call(self.runtime("seed_or_zeros"), name(dy), name(y))

    def unshare_returned(self, body):
        """Returned gradients that may be the same array as another returned gradient, as
        an argument or as the incoming gradient get `copy_value(...)`, so that updating one
        in place changes nothing else. Decided at transform time from the optimized
        adjoint: arithmetic makes new arrays; a copy, a helper call or a view may not."""
        ret = body[-1] if body and isinstance(body[-1], gast.Return) else None
        if ret is None:
            return
        elts = ret.value.elts if isinstance(ret.value, gast.Tuple) else [ret.value]
        outside = set(self.analysis.params) | {self.seed}
        shares = _sharing(body, self.helpers)
        seen = set()
        for k, elt in enumerate(elts):
            if not isinstance(elt, gast.Name):
                continue
            var = next((v for v, g in self.gradients.items() if g == elt.id), None)
            mine = _shared_with(elt.id, shares)
            if (mine & (seen | outside)) and self.kinds.get(var) != "scalar":
                elts[k] = call(self.runtime("copy_value"), elt)
            seen |= mine
        if not isinstance(ret.value, gast.Tuple):
            ret.value = elts[0]

    def read_shapes_of_kept(self, body):
        """Where the adjoint reads a final value only for its shape (`x.shape`,
        `unbroadcast(g, x)`), read it of another array of the same shape pattern that it
        keeps anyway, so the primal records one array fewer: `repeat_to_shape(g, pow_)`
        becomes `repeat_to_shape(g, sub)` for `pow_ = sub ** 2`. Only values bound once,
        by the final pop, and read of values bound on every path to it."""
        stored = {n.id for n in _walk(body) if isinstance(n, gast.Name)
                  and not isinstance(n.ctx, gast.Load)} | self.adjoint_locals
        final = [e.id for e in self.final[0].value.args[0].elts]
        shape_reads, value_reads = {}, set()
        for read, only_shape in _name_reads(body, self.helpers):
            if only_shape:
                shape_reads.setdefault(read.id, []).append(read)
            else:
                value_reads.add(read.id)
        arrays = [v for v in final if v not in stored and self.kinds.get(v) == "array"
                  and self.shapes.get(v) is not None]
        bound = set(self.analysis.params).union(    # not None at the push (a branch's)
            *[_definitely_assigned(stmt) for stmt in self.primal_body])
        kept = [v for v in arrays if (v in value_reads or v in self.analysis.params)
                and v in bound]
        for v in arrays:
            if v in value_reads or v not in shape_reads or v in self.analysis.params:
                continue
            other = next((w for w in kept if w != v and self.shapes[w] == self.shapes[v]),
                         None)
            for read in shape_reads[v] if other is not None else ():
                read.id = other

    def narrow_final(self, body, head):
        """The final tuple lists only the values the optimized adjoint still reads."""
        values, shapes = self.reads(body)
        push, pop = self.final
        kept = [e.id for e in push.value.args[0].elts if e.id in values | shapes]
        push.value.args[0].elts = [name(v) for v in kept]
        pop.targets[0].elts = [name(v, store=True) for v in kept]
        if not kept:
            self.primal_body = [s for s in self.primal_body if s is not push]
            if pop in head:
                head.remove(pop)

    def sorted_active(self):
        order = self.analysis.params + [s.target for s in self.analysis.statements]
        return [v for v in dict.fromkeys(order) if v in self.active]

    # -- statements --------------------------------------------------------------------

    def statement(self, node):
        if isinstance(node, gast.Assign):
            target = node.targets[0]
            if isinstance(target, gast.Name):
                return self.assignment(node, target.id)
            return self.subscript_write(node, target)
        if isinstance(node, gast.Expr):
            op = getattr(node, "op", None)
            if op is not None and op.kind == "append":
                return self.append(node, op)
            if op is not None and op.kind == "pop":
                self.check_pop(node, None, op)
            return [node], []
        if isinstance(node, gast.If):
            if len(node.body) == 1 and isinstance(node.body[0], gast.Break):
                return [node], []
            return self.branch(node)
        if isinstance(node, gast.For):
            return self.for_loop(node)
        if isinstance(node, gast.While):
            return self.while_loop(node)
        if isinstance(node, gast.With):
            return [], self.grad_of(node)
        return [node], []

    def grad_of(self, node):
        """`with grad_of(x) as g: body` runs body on x's gradient, in the adjoint only."""
        item = node.items[0]
        x, g = item.context_expr.args[0].id, item.optional_vars.id
        if x not in self.active:
            return []
        dx = self.grad(x)
        self.adjoint_locals |= names_in(node, gast.Store)
        return [assign(g, name(dx))] + [copy(s) for s in node.body] + [assign(dx, name(g))]

    def check_pop(self, node, target, op):
        """`v = xs.pop()` on a differentiated list: its gradient has no rule yet."""
        if target in self.active or op.args[0].id in self.active:
            raise self.function.error(UnsupportedSyntaxError, node,
                "cannot differentiate list.pop() on a differentiated list in reverse mode: "
                "read the item (v = xs[-1]) and keep the rest (xs = xs[:-1])")

    def assignment(self, node, target):
        op = node.op
        if op.kind == "pop":
            self.check_pop(node, target, op)
        overwrites = self.analysis.overwritten(target, self.loop_depth > 0, node)
        adjoint = []
        if target in self.active:
            if op.kind == "call":
                node, adjoint = self.user_call(node, target, op)
            else:
                adjoint = self.op_adjoint(target, op)
                # linear in the target's gradient: dropped where that gradient is known
                # to be the zero 0.0, and a rule's run only on a gradient that is more
                guarded = op.kind == "rule" and self.kinds.get(target) != "scalar"
                pullback = Pullback(self.grad(target), guarded)
                for stmt in adjoint:
                    stmt.srcad_pullback = pullback
        primal = [node]
        if overwrites:
            if target in self.active:
                adjoint.append(assign(self.grad(target), const(0.0)))
            primal.insert(0, self.push_stmt(name(target), ("save", target)))
            adjoint.append(tagged(assign(target, self.pop_expr()), ("save", target)))
        return primal, adjoint

    def op_adjoint(self, target, op):
        dy = name(self.grad(target))
        if op.kind == "copy":
            return self.contribute(op.node.id, dy)
        if op.kind == "subscript":
            base = op.node.value.id
            if base not in self.active:
                return []
            total = name(self.grad(base))
            value = call(self.runtime("add_at"), total, name(base), index_expr(op.node.slice), dy)
            return [assign(self.grad(base), value)]
        if op.kind == "field":      # y = x.attr: into the part of x's gradient attr names
            base = op.args[0].id
            if base not in self.active:
                return []
            key = call(self.runtime("field_key"), name(base), const(op.attr))
            value = call(self.runtime("add_at"), name(self.grad(base)), name(base), key, dy)
            return [assign(self.grad(base), value)]
        if op.kind == "literal":
            out = []
            for key, node in op.elements.items():
                if isinstance(node, gast.Name) and node.id in self.active:
                    piece = call(self.runtime("item_grad"), copy(dy), const(key))
                    out += self.contribute(node.id, piece)
            return out
        if op.kind == "rule":
            return self.rule_adjoint(target, op, dy)
        return []

    def contribute(self, var, expr):
        """`d[var] += expr`, as plain `+` where the kinds allow it."""
        if var not in self.active:
            return []
        dvar = name(self.grad(var))
        if self.kinds.get(var) in ("scalar", "array"):
            value = gast.BinOp(left=dvar, op=gast.Add(), right=expr)
        else:
            value = call(self.runtime("accumulate"), dvar, expr)
        return [assign(self.grad(var), value)]

    def rule_adjoint(self, target, op, dy):
        template = rules.ADJOINTS.get(op.primitive)
        if template is None:
            raise self.function.error(NoDerivativeError, op.node,
                                      f"no reverse rule for {op.description}: register "
                                      "one with @srcad.adjoint")
        bindings = op.bindings
        wanted = {param for param, node in bindings.items()
                  if isinstance(node, gast.Name) and node.id in self.active
                  and param in template.differentiates}
        if not wanted:
            return []

        def gradient_of(param):
            if param == template.result:
                return copy(dy)
            return name(self.grad(bindings[param].id)) if param in wanted else None

        arrays, read = self.array_arguments(op, bindings)
        statements, contributions = template.expand(name(target), read, gradient_of,
                                                    self.namer.fresh,
                                                    self.template_names(template))
        out = list(statements)
        for param, expr in contributions:
            expr = self.without_unbroadcast(expr, op, param, bindings)
            expr = self.specialize(expr, target)     # plain NumPy where shapes are known
            out += self.contribute(bindings[param].id, expr)
        used = set().union(*(names_in(s, gast.Load) for s in out))  # tanh's reads no argument
        return [a for a in arrays if a.targets[0].id in used] + out

    def without_unbroadcast(self, expr, op, param, bindings):
        """Drop `unbroadcast(g, x)` where x's shape is already the result's shape."""
        if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) \
                and self.helpers.get(expr.func.id) is runtime.unbroadcast \
                and self.same_shape(op, param, bindings):
            return expr.args[0]
        return expr

    def user_call(self, node, target, op):
        callee = op.callee
        signature, bound = self.bind_callee(node, op)
        kinds = self.call_kinds(bound)
        wrt = self.callee_wrt(signature, bound)
        floats = floating_names(self)
        floating = frozenset(p for p, arg in bound.arguments.items()
                             if isinstance(arg, gast.Name) and floats.get(arg.id) == FLOATING)
        generated = self.module.callee(callee, kinds, wrt, (self.function, node),
                                       self.callee_shapes(bound, kinds), self.real, floating)
        self.helpers[generated.primal_name] = generated
        self.helpers[generated.adjoint_name] = generated
        value = gast.Call(func=name(generated.primal_name),
                          args=[name(self.stack)] + list(op.args), keywords=call_keywords(op))
        primal = assign(target, value)
        primal.lineno = node.lineno
        primal.op = op
        names = []
        contributions = []
        for param in wrt:    # the adjoint returns their gradients, in this order
            arg = bound.arguments[param].id
            piece = self.namer.fresh(f"d{arg.rstrip('_')}_{callee.__name__}")
            names.append(name(piece, store=True))
            contributions += self.contribute(arg, name(piece))
        targets = gast.Tuple(elts=names, ctx=gast.Store())
        back = assign(targets, call(name(generated.adjoint_name), name(self.stack),
                                    name(self.grad(target))))
        back.srcad_call_seed = (self.grad(target), target)    # see optimize.ZeroPullbacks
        return primal, [back] + contributions

    def subscript_write(self, node, target):
        base = target.value.id
        index = index_expr(target.slice)
        adjoint = []
        if base in self.active:
            taken = call(self.runtime("take_at"), name(self.grad(base)), index)
            value = node.value
            if isinstance(value, gast.Name) and value.id in self.active:
                # the value may have been broadcast into the slots (`x[[0, 1]] = s`,
                # `x[1:] = s`): sum their gradient back to its shape, unless both have
                # one shape
                slot = self.inferred.subscript_shape(self.shapes.get(base), target.slice)
                if slot is None or slot != self.shape_of(value):
                    taken = call(self.runtime("unbroadcast"), taken, name(value.id))
                adjoint = self.contribute(value.id, taken)
            else:
                adjoint = [gast.Expr(value=taken)]
        save = self.push_stmt(call(self.runtime("saved_item"), name(base), copy(index)),
                              ("item", base))
        restore = tagged(gast.Expr(value=call(self.runtime("restore_item"), name(base),
                                              copy(index), self.pop_expr())), ("item", base))
        return floating_check(self, node) + [save, node], adjoint + [restore]

    def append(self, node, op):
        receiver = node.value.func.value.id
        value = op.args[0]
        adjoint = []
        if receiver in self.active:
            piece = call(self.runtime("pop_grad"), name(self.grad(receiver)), name(receiver))
            if isinstance(value, gast.Name) and value.id in self.active:
                adjoint = self.contribute(value.id, piece)
            else:
                adjoint = [gast.Expr(value=piece)]
        undo = gast.Expr(value=call(gast.Attribute(value=name(receiver), attr="pop",
                                                   ctx=gast.Load())))
        return [node], adjoint + [tagged(undo, ("list", receiver))]

    def branch(self, node):
        p_body, a_body = self.block(node.body)
        p_else, a_else = self.block(node.orelse)
        assigned = names_in(gast.Module(body=node.body + node.orelse, type_ignores=[]),
                            gast.Store)
        pops = []
        if names_in(node.test) & assigned:
            tag = ("branch", id(node))
            p_body.append(self.push_stmt(const(True), tag))
            p_else.append(self.push_stmt(const(False), tag))
            test = tagged(self.pop_expr(), tag)
        else:
            test = copy(node.test)
            recomputed = recomputed_test(self, node, [(p_body, a_body), (p_else, a_else)])
            if recomputed is not None:
                pops, test = recomputed
        primal = gast.If(test=node.test, body=p_body or [gast.Pass()], orelse=p_else)
        adjoint = gast.If(test=test, body=a_body, orelse=a_else)
        return [primal], pops + [adjoint]

    def for_loop(self, node):
        target = node.target.id
        self.loop_depth += 1
        p_body, a_body = self.block(node.body)
        self.loop_depth -= 1
        reversed_ = name(self.helper("reversed", builtins.reversed))
        breaks = any(isinstance(n, gast.Break) for n in _outside_loops(node.body))
        if breaks:
            tag = ("count", id(node))
            count = self.namer.fresh("iterations")
            increment = tagged(assign(count, gast.BinOp(left=name(count), op=gast.Add(),
                                                        right=const(1))), tag)
            primal = [tagged(assign(count, const(0)), tag),
                      gast.For(target=node.target, iter=node.iter, body=[increment] + p_body,
                               orelse=[], type_comment=None),
                      self.push_stmt(name(count), tag)]
            upto = gast.Subscript(value=copy(node.iter),
                                  slice=gast.Slice(lower=None, upper=name(count), step=None),
                                  ctx=gast.Load())
            adjoint = [tagged(assign(count, self.pop_expr()), tag),
                       tagged(gast.For(target=copy(node.target), iter=call(reversed_, upto),
                                       body=a_body, orelse=[], type_comment=None), tag)]
        else:
            primal = [gast.For(target=node.target, iter=node.iter, body=p_body or [gast.Pass()],
                               orelse=[], type_comment=None)]
            adjoint = [gast.For(target=copy(node.target), iter=call(reversed_, copy(node.iter)),
                                body=a_body, orelse=[], type_comment=None)]
        if self.analysis.overwritten(target, self.loop_depth > 0) \
                or self.analysis.sites.get(target, 0) > 1:
            primal.insert(0, self.push_stmt(name(target), ("save", target)))
            adjoint.append(tagged(assign(target, self.pop_expr()), ("save", target)))
        return primal, adjoint

    def while_loop(self, node):
        self.loop_depth += 1
        p_body, a_body = self.block(node.body)
        self.loop_depth -= 1
        tag = ("count", id(node))
        count = self.namer.fresh("iterations")
        increment = tagged(assign(count, gast.BinOp(left=name(count), op=gast.Add(),
                                                    right=const(1))), tag)
        primal = [tagged(assign(count, const(0)), tag),
                  gast.While(test=node.test, body=[increment] + p_body, orelse=[]),
                  self.push_stmt(name(count), tag)]
        loop_var = "_" if "_" not in self.analysis.locals else self.namer.fresh("unused")
        range_ = name(self.helper("range", builtins.range))
        adjoint = [gast.For(target=name(loop_var, store=True),
                            iter=tagged(call(range_, self.pop_expr()), tag),
                            body=a_body, orelse=[], type_comment=None)]
        return primal, adjoint

    # -- pruning ---------------------------------------------------------------------

    def prune(self):
        """Drop recordings the adjoint never reads, and adjoint blocks left empty."""
        aliases = self.alias_closure()
        while True:
            values, shapes = self.reads(self.adjoint_body)
            needed = values | shapes
            params = set(self.analysis.params)
            drop = set()
            for node in _statements(self.adjoint_body):     # where tags are
                tag = tag_of(node)
                if not tag:
                    continue
                kind = tag[0]
                if kind == "save" and tag[1] not in needed:
                    drop.add(tag)
                elif kind == "item" and not ({tag[1]} | aliases.get(tag[1], set())) \
                        & (values | params):
                    # kept where the adjoint reads the memory written, or where it is
                    # an argument's (written through a second name too: `a = x; a[0] = v`)
                    drop.add(tag)
                elif kind == "list" and tag[1] not in needed and tag[1] not in params \
                        and not aliases.get(tag[1]):
                    drop.add(tag)
            changed = bool(drop)
            self.primal_body = _remove_tagged(self.primal_body, drop)
            self.adjoint_body = _remove_tagged(self.adjoint_body, drop)
            body, removed = _remove_empty(self.adjoint_body)
            self.adjoint_body = body
            if removed:
                self.primal_body = _remove_tagged(self.primal_body, removed)
                self.adjoint_body = _remove_tagged(self.adjoint_body, removed)
                changed = True
            if not changed:
                break
        self.primal_body = clean(self.primal_body)
        self.adjoint_body = clean(self.adjoint_body)
        values, shapes = self.reads(self.adjoint_body)
        self.recorded = values | shapes     # what the adjoint may read of the primal's values
        saved = [v for v in self.primal_order() if v in self.recorded]
        self.final[0].value.args[0].elts = [name(v) for v in saved]
        self.final[1].targets[0].elts = [name(v, store=True) for v in saved]
        if not saved:
            self.primal_body = [s for s in self.primal_body if s is not self.final[0]]
        self.copy_views_of_written_memory(values, aliases)

    def copy_views_of_written_memory(self, values, aliases):
        """Take as a copy a view that the adjoint reads, of memory the primal writes into.

        The adjoint restores written memory before it reads such a view, which is all it
        needs; but forward mode over the adjoint (a Hessian) restores only the tangents
        it differentiates, and would read the view's tangent as overwritten."""
        written = {tag_of(n)[1] for n in _statements(self.adjoint_body)
                   if tag_of(n) and tag_of(n)[0] == "item"}
        groups = {id(g): g for g in (aliases.get(w) for w in written) if g}
        shared = set().union(*groups.values()) - written
        for node in _statements(self.primal_body):
            op = getattr(node, "op", None)
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) \
                    and node.targets[0].id in shared & values and op is not None \
                    and op.kind in ("copy", "subscript", "field", "rule") and may_share(op):
                node.value = call(self.runtime("copy_value"), node.value)

    def primal_order(self):
        return list(dict.fromkeys(self.analysis.params
                                  + [s.target for s in self.analysis.statements]
                                  + sorted(names_in(self.tree, gast.Store))))

    def reads(self, body):
        """Primal variables the adjoint reads: (for their values, for their shape only)."""
        values, shapes = set(), set()
        for node in _statements(body):
            if tag_of(node) and tag_of(node)[0] in ("item", "list"):
                base = node.value.args[0] if tag_of(node)[0] == "item" else node.value.func.value
                base.srcad_shape_only = True

        def mark(node):     # the arguments a runtime helper reads for their shape only
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
                positions = SHAPE_ONLY.get(self.helpers.get(node.func.id), ())
                for i in positions:
                    if i < len(node.args) and isinstance(node.args[i], gast.Name):
                        node.args[i].srcad_shape_only = True

        for node in _loads(body, frozenset(), mark):
            (shapes if getattr(node, "srcad_shape_only", False) else values).add(node.id)
        own = self.adjoint_locals
        return values - own, shapes - values - own

    def alias_closure(self):
        """{variable: the variables that may share its memory, itself included}: one set
        for each group of variables linked by copies and views (empty for one alone)."""
        direct = {}
        for s in self.analysis.statements:
            if not s.write and may_share(s.op):
                for n, _ in s.op.inputs():
                    direct.setdefault(n, set()).add(s.target)
                    direct.setdefault(s.target, set()).add(n)
        closure = {}
        for start in direct:
            if start in closure:
                continue
            group, todo = {start}, [start]
            while todo:
                for w in direct[todo.pop()]:
                    if w not in group:
                        group.add(w)
                        todo.append(w)
            shared = group if len(group) > 1 else set()
            closure.update(dict.fromkeys(group, shared))
        return closure

    def unbound_before_push(self):
        """Variables pushed or saved at the end that may not be bound yet."""
        bound = set(self.analysis.params)
        unbound = []
        for stmt in self.primal_body:
            pushed = [n.value.args[0].id for n in _statements([stmt])
                      if tag_of(n) and tag_of(n)[0] == "save"]
            if tag_of(stmt) == ("final",):
                pushed = [e.id for e in stmt.value.args[0].elts]
            for v in pushed:
                if v not in bound and v not in unbound:
                    unbound.append(v)
            bound |= _definitely_assigned(stmt)
        return unbound

    def restores_in_place(self):
        return any(tag_of(n) and tag_of(n)[0] in ("item", "list")
                   for n in _statements(self.adjoint_body))


class Pullback:
    """The adjoint statements of one assignment: linear in the gradient dy of its target
    (optimize.ZeroPullbacks drops or guards them). guarded: whether they may fail on the
    zero 0.0 (a rule that indexes or reshapes dy), so must not run on it."""

    def __init__(self, dy, guarded):
        self.dy = dy
        self.guarded = guarded


class AdjointShapes:
    """Shapes of the adjoint's expressions known at transform time, for optimize.py: a
    primal variable's from shapes.py; a gradient's only where sure (of a scalar)."""

    def __init__(self, generator):
        self.shapes = generator.shapes
        self.kinds = generator.kinds
        self.primal = {v for v in generator.analysis.locals if v in generator.shapes}
        self.of_gradient = {g: v for v, g in generator.gradients.items()}

    def expected(self, gradient):
        return self.shapes.get(self.of_gradient.get(gradient))

    def shape_of(self, node, overrides):
        if isinstance(node, gast.Constant):
            return () if type(node.value) in (int, float) else None
        if isinstance(node, gast.Name):
            if node.id in overrides:
                return overrides[node.id]
            if node.id in self.of_gradient:
                return () if self.scalar_gradient(node.id) else None
            return self.shapes.get(node.id) if node.id in self.primal else None
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) \
                and node.value.id in self.primal:
            if node.attr in ("size", "ndim"):
                return ()
            if node.attr == "T":
                shape = self.shapes.get(node.value.id)
                return None if shape is None else shape[::-1]
            return None
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return self.shape_of(node.operand, overrides)
        if isinstance(node, gast.BinOp):
            left = self.shape_of(node.left, overrides)
            right = self.shape_of(node.right, overrides)
            if isinstance(node.op, gast.MatMult):
                return matmul_shape(left, right)
            if isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)):
                return broadcast(left, right)
        return None

    def scalar_gradient(self, gradient):
        var = self.of_gradient.get(gradient)
        return self.kinds.get(var) == "scalar" and self.shapes.get(var) == ()

    def scalar(self, node, made=()):
        return self.shape_of(node, dict.fromkeys(made, ())) == ()


def _read_in_parts_only(body, var, helpers):
    """Whether the adjoint body reads var only as `part_of(var, index)`, which copies the
    part, and never assigns it: then nothing the body runs can change var's value."""
    parts = [n.args[0] for n in _walk(body) if isinstance(n, gast.Call)
             and isinstance(n.func, gast.Name) and helpers.get(n.func.id) is runtime.part_of
             and n.args and isinstance(n.args[0], gast.Name) and n.args[0].id == var]
    return len(parts) == sum(isinstance(n, gast.Name) and n.id == var for n in _walk(body))


def _sharing(body, helpers):
    """{name: names (or call pieces) whose memory the name's value may share}, from
    every assignment of the adjoint."""
    shares = {}
    for node in _walk(body):
        if not isinstance(node, gast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, gast.Name):
            shares.setdefault(target.id, set()).update(_may_share(node.value, helpers))
        elif isinstance(target, gast.Tuple):
            for i, t in enumerate(target.elts):
                if isinstance(t, gast.Name):    # a callee's pieces are distinct
                    shares.setdefault(t.id, set()).add(("piece", id(node), i))
    return shares


def _may_share(expr, helpers):
    if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Constant)):
        return set()
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute) \
            and isinstance(expr.func.value, gast.Name) \
            and helpers.get(expr.func.value.id) is numpy \
            and returns_fresh(getattr(numpy, expr.func.attr, None), [k.arg for k in expr.keywords]):
        return set()
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) \
            and helpers.get(expr.func.id) in SHARES_ONLY:
        # the total a gradient is added into; a copy
        return set().union(*(_may_share(expr.args[i], helpers)
                             for i in SHARES_ONLY[helpers.get(expr.func.id)]
                             if i < len(expr.args)))
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name):
        # what the arguments' values may share, but those read only for their shape
        shape_only = SHAPE_ONLY.get(helpers.get(expr.func.id), ())
        return set().union(*(_may_share(a, helpers) for i, a in enumerate(expr.args)
                             if i not in shape_only),
                           *(_may_share(k.value, helpers) for k in expr.keywords))
    return {n.id for n in walk(expr) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _shared_with(var, shares):
    found, todo = {var}, [var]
    while todo:
        for other in shares.get(todo.pop(), ()):
            if other not in found:
                found.add(other)
                if isinstance(other, str):
                    todo.append(other)
    return found


def index_expr(index):
    """An index as an expression that can be passed to a function (slices as slice())."""
    if isinstance(index, gast.Slice):
        parts = [copy(getattr(index, p)) if getattr(index, p) is not None else const(None)
                 for p in ("lower", "upper", "step")]
        if isinstance(parts[2], gast.Constant) and parts[2].value is None:
            parts.pop()     # slice(lower, upper): slice(upper) alone would mean slice(None, upper)
        return call(name("slice"), *parts)
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[index_expr(e) for e in index.elts], ctx=gast.Load())
    return copy(index)


class _SeedOne(gast.NodeTransformer):
    """Reads of the seed become the constant 1.0."""

    def __init__(self, seed):
        self.seed = seed

    def visit_Name(self, node):
        return const(1.0) if node.id == self.seed else node


def _parameters(names):
    return gast.arguments(
        args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
              for p in names],
        posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _function(name_, args, body):
    return gast.FunctionDef(name=name_, args=args, body=body, decorator_list=[], returns=None,
                            type_comment=None, type_params=[])


def _statements(body):
    """The statements of body, those inside ifs and loops too (where tags are)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            yield from _statements(stmt.body)
            yield from _statements(stmt.orelse)


_SHAPE_ONLY = {h: SHAPE_ONLY[h] for h in (runtime.unbroadcast, runtime.repeat_to_shape,
                                          runtime.reduced_size)}   # their shapes alone


def _name_reads(body, helpers):
    """(name node, whether only its shape is read) for each read of a name in body:
    `x.shape`, `x.ndim`, `x.size` and the _SHAPE_ONLY arguments read only the shape."""
    shape_only = set()
    for node in _walk(body):
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) \
                and node.attr in ("shape", "ndim", "size"):
            shape_only.add(id(node.value))
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            args = node.args
            shape_only.update(id(args[i]) for i in _SHAPE_ONLY.get(helpers.get(node.func.id), ())
                              if i < len(args) and isinstance(args[i], gast.Name))
    for node in _walk(body):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            yield node, id(node) in shape_only


def _walk(body):
    for stmt in body:
        yield from walk(stmt)


def _loads(nodes, bound, visit=None):
    """Names read in nodes, less the reads of a loop's target inside that loop (the
    loop binds it there, so the primal need not record it). visit(node): called on
    every other node before the names inside it."""
    todo = [(node, bound) for node in nodes]
    while todo:
        node, bound = todo.pop()
        if isinstance(node, gast.For) and isinstance(node.target, gast.Name):
            inner = bound | {node.target.id}
            todo.append((node.iter, bound))
            todo += [(stmt, inner) for stmt in node.body + node.orelse]
        elif isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load) and node.id not in bound:
                yield node
        else:
            if visit is not None:
                visit(node)
            for field in node._fields:
                value = getattr(node, field, None)
                if type(value) is list:
                    todo += [(v, bound) for v in value if isinstance(v, gast.AST)]
                elif isinstance(value, gast.AST):
                    todo.append((value, bound))


def _outside_loops(body):
    for stmt in body:
        yield stmt
        if not isinstance(stmt, (gast.For, gast.While)):
            yield from _outside_loops([c for c in gast.iter_child_nodes(stmt)
                                       if isinstance(c, gast.stmt)])


def _remove_tagged(body, tags):
    out = []
    for stmt in body:
        tag = tag_of(stmt)
        if tag in tags:
            continue
        if isinstance(stmt, gast.If) and tag_of(stmt.test) in tags:
            continue
        for field in ("body", "orelse"):
            if hasattr(stmt, field):
                setattr(stmt, field, _remove_tagged(getattr(stmt, field), tags))
        if isinstance(stmt, gast.If) and tag_of(stmt.test) is None and not stmt.body:
            stmt.body = [gast.Pass()]
        out.append(stmt)
    return out


def _method_call(stmt, method):
    """Whether stmt is `stack.append(value)` (method "append") or `names = stack.pop()`."""
    value = stmt.value if isinstance(stmt, (gast.Expr, gast.Assign)) else None
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
        value.func.attr == method and (method == "pop") == isinstance(stmt, gast.Assign)


def _remove_empty(body):
    """Remove adjoint ifs and loops with nothing left inside; return their tags."""
    out, removed = [], set()
    for stmt in body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt.body, r1 = _remove_empty(stmt.body)
            stmt.orelse, r2 = _remove_empty(stmt.orelse)
            removed |= r1 | r2
            if not _has_code(stmt.body) and not _has_code(stmt.orelse):
                for n in walk(stmt):
                    if tag_of(n) and tag_of(n)[0] in ("branch", "count"):
                        removed.add(tag_of(n))
                continue
        out.append(stmt)
    return out, removed


def _has_code(body):
    return any(not is_marker(s) and not isinstance(s, gast.Pass) for s in body)


def _definitely_assigned(stmt):
    if isinstance(stmt, gast.Assign):
        return names_in(stmt.targets[0], gast.Store) if isinstance(stmt.targets[0], gast.Name) \
            else set()
    if isinstance(stmt, gast.If):
        body = set().union(*[_definitely_assigned(s) for s in stmt.body]) if stmt.body else set()
        orelse = set().union(*[_definitely_assigned(s) for s in stmt.orelse]) \
            if stmt.orelse else set()
        return body & orelse
    return set()


class ReverseModule(GeneratedModule):
    """All the functions one reverse-mode transform generates."""

    def generate(self, fn, function, tree, wrt, param_kinds, is_callee, shapes, real=False,
                 floating=frozenset()):
        names = (self.fresh(fn.__name__ + "_primal", function),
                 self.fresh(fn.__name__ + "_adjoint", function))
        if not is_callee:   # named before any helper is bound, so that helpers avoid it
            self.gradient_name = self.fresh(fn.__name__ + "_grad", function)
            seeded_name = self.fresh(fn.__name__ + "_adjoint_for_grad", function)
        generated = ReverseFunction(self, function, tree, wrt, param_kinds, names, is_callee,
                                    shapes, real, floating)
        generated.seeded_name = None if is_callee else seeded_name
        self.started(fn, param_kinds, generated, is_callee)
        generated.definitions = list(generated.build())
        generated.lean_def = None
        if not is_callee:
            self.add_for_grad(generated, fn, function)
        return generated

    def add_for_grad(self, generated, fn, function):
        """After the transformed function's primal and adjoint, what grad runs (its output
        is a scalar and its seed 1.0): a primal without the work only the value needs
        (lean_primal), where there is such work on arrays, and the adjoint seeded with
        1.0 (ReverseFunction.seeded); then `f_grad`, which calls them."""
        definitions = generated.definitions
        if generated.kinds.get(generated.returned) == "scalar":
            generated.lean_def = lean_primal(
                definitions[0], self.fresh(fn.__name__ + "_primal_for_grad", function),
                worth=lambda s: generated.kinds.get(s.targets[0].id) == "array")
        if generated.lean_def is not None:
            definitions.insert(1, generated.lean_def)
        if generated.seeded_def is not None:
            definitions.append(generated.seeded_def)
        definitions.append(generated.gradient_def(self.gradient_name))

    def tuple_result(self, generated):
        return generated is not self.functions[0] or len(generated.wrt) > 1
