"""Stage 5 (forward mode): a normalized function to its Jacobian-vector product.

After each primal statement that computes an active value comes the tangent
statement of its forward rule: `dy = dx * (1.0 - y * y)` after
`y = np.tanh(x)`. Loops and branches stay as they are; nothing is recorded.
The generated function takes the tangents of the differentiated arguments
first, then the original arguments, and returns `(value, tangent)`.
"""
import gast

from . import rules, runtime
from .dtypes import floating_check
from .errors import NoDerivativeError
from .aliasing import may_share
from .dataflow import reachable
from .rules.numpy import converted
from .rules.runtime import MUTATING
from .generate import GeneratedModule, Generator, call_keywords, runtime_kind
from .optimize import optimize_forward
from .syntax import assign, call, const, copy, name, names_in, walk


class ForwardFunction(Generator):
    forward = True
    def __init__(self, module, function, tree, wrt, param_kinds, name_, is_callee, shapes):
        super().__init__(module, function, tree, wrt, param_kinds, is_callee, shapes)
        self.jvp_name = name_
        self.popped = None      # the names assigned a record popped off a stack
        self.updated = None     # the names whose memory may be updated in place
        self.shared = None      # name -> the names a statement joins it to (sharing)

    def build(self):
        body = self.tree.body
        result = body[-1].value
        statements, _ = self.block(body[:-1])
        copies = [assign(self.grad(p), call(self.runtime("seed_copy"), name(self.grad(p))))
                  for p in self.wrt if p in self.active and p in self.updated_names()
                  and not self.is_callee]     # the caller's tangents stay as they were
        zeros = [assign(self.grad(p), call(self.runtime("zeros_like"), name(p)))
                 for p in self.analysis.params if p in self.active and p not in self.wrt]
        copies = zeros + copies
        if not self.is_callee:      # the caller's arrays stay as they were
            copies = [assign(p, call(self.runtime("copy_value"), name(p)))
                      for p in self.written_params()] + copies
        tangent = self.tangent_or_zero(result)
        args = copy(self.tree.args)
        tangents = [gast.Name(id=self.grad(p), ctx=gast.Param(), annotation=None,
                              type_comment=None) for p in self.wrt]
        (args.posonlyargs or args.args)[:0] = tangents     # before positional-only ones too
        value = gast.Tuple(elts=[copy(result), tangent], ctx=gast.Load())
        return gast.FunctionDef(name=self.jvp_name, args=args,
                                body=copies + statements + [gast.Return(value=value)],
                                decorator_list=[], returns=None, type_comment=None,
                                type_params=[])

    def updated_names(self):
        """Names written or read in place, and names passed to the user's functions, which
        may update them in place (srcad's own generated primals write into the arrays
        they are given, then restore them, but not their tangents)."""
        if self.updated is None:
            self.updated = self.analysis.in_place | {
                n.id for node in walk(self.tree)
                if getattr(getattr(node, "op", None), "kind", None) == "call"
                for n in list(node.op.args) + list(node.op.keywords.values())
                if isinstance(n, gast.Name)}
        return self.updated

    def tangent_or_zero(self, node):
        if isinstance(node, gast.Name) and node.id in self.active:
            return name(self.grad(node.id))
        return call(self.runtime("zeros_like"), copy(node))

    # -- statements ---------------------------------------------------------------

    def statement(self, node):
        if isinstance(node, gast.Assign):
            target = node.targets[0]
            if isinstance(target, gast.Name):
                return self.assignment(node, target.id), []
            return self.subscript_write(node, target), []
        if isinstance(node, gast.Expr):
            op = getattr(node, "op", None)
            if op is not None and op.kind == "append":
                return self.append(node, op), []
            if op is not None and op.kind == "rule" and op.args \
                    and isinstance(op.args[0], gast.Name) and op.args[0].id in self.active:
                tangent = self.rule_tangent(None, op)
                return [node] + self.take_pending() + \
                    ([gast.Expr(value=tangent)] if tangent is not None else []), []
            if op is not None and op.kind == "call":
                return [self.user_call(node, None, op)], []
            return [node], []
        if isinstance(node, gast.If):
            body, _ = self.block(node.body)
            orelse, _ = self.block(node.orelse)
            return [gast.If(test=node.test, body=body or [gast.Pass()], orelse=orelse)], []
        if isinstance(node, gast.For):
            body, _ = self.block(node.body)
            return [gast.For(target=node.target, iter=node.iter, body=body or [gast.Pass()],
                             orelse=[], type_comment=None)], []
        if isinstance(node, gast.While):
            body, _ = self.block(node.body)
            return [gast.While(test=node.test, body=body or [gast.Pass()], orelse=[])], []
        if isinstance(node, gast.With):      # grad_of: a reverse-mode hook only
            return [], []
        return [node], []

    def assignment(self, node, target):
        op = node.op
        if op.kind == "call" and not self.analysis.runs_as_is(node):
            return [self.user_call(node, target if target in self.active else None, op)]
        if op.kind == "pop" and self.has_tangent(op.args[0].id) and target not in self.active:
            stack = gast.Attribute(value=name(self.grad(op.args[0].id)), attr="pop",
                                   ctx=gast.Load())
            return [node, gast.Expr(value=call(stack))]    # keep the tangent stack in step
        if target not in self.active:
            if op.kind == "rule" and op.primitive in MUTATING and op.args \
                    and isinstance(op.args[0], gast.Name) and op.args[0].id in self.active:
                tangent = self.rule_tangent(None, op)     # it updates its argument's tangent
                return [node] + self.take_pending() + \
                    ([gast.Expr(value=tangent)] if tangent is not None else [])
            return [node]
        tangent = self.op_tangent(target, op)
        pending = self.take_pending()
        if tangent is None:
            tangent = call(self.runtime("zeros_like"), name(target))
        elif target in self.analysis.in_place and not self.recorded(op) \
                or self.aliases_written(tangent, op):
            tangent = call(self.runtime("seed_copy"), tangent)
        return [node] + pending + [assign(self.grad(target), tangent)]

    def recorded(self, op):
        """Whether op reads a record off a stack (`values = stack.pop()`, `y = values[0]`):
        its tangent is the one recorded with it, shared as the value is, so that an update
        in place of the value (restore_item) and of its tangent reach every record."""
        if op.kind == "subscript" and isinstance(op.node.value, gast.Name):
            if self.popped is None:
                self.popped = {s.target for s in self.analysis.statements
                               if s.op.kind == "pop"}
            return op.node.value.id in self.popped
        return op.kind == "pop"

    def aliases_written(self, tangent, op):
        """Whether a tangent may be another variable's tangent itself where the primal made
        new memory (`b = W + 1.0` or `v = W[:, 1].copy()`, tangent `dW`, `dW_part`,
        `fit(dW, b)` or `converted(dW, W, b)`) and that variable's memory may be written
        in place (through a view too: `W_part` is W's): the tangent must be a copy too,
        as the value is."""
        while isinstance(tangent, gast.Call) and isinstance(tangent.func, gast.Name) \
                and self.helpers.get(tangent.func.id) in (runtime.fit, converted):
            tangent = tangent.args[0]       # each may return its argument itself
        if not isinstance(tangent, gast.Name) or op.kind != "rule" or may_share(op):
            return False
        var = next((v for v, g in self.gradients.items() if g == tangent.id), None)
        return var is not None and bool(self.sharing(var) & self.updated_names())

    def sharing(self, var):
        """The names that may share memory with var: those joined to it by statements
        whose result may share memory with what they read (views, copies, calls)."""
        if self.shared is None:
            self.shared = {}
            for s in self.analysis.statements:
                if s.op is not None and may_share(s.op):
                    for n in names_in(s.op.node, gast.Load) & self.analysis.locals:
                        self.shared.setdefault(s.target, set()).add(n)
                        self.shared.setdefault(n, set()).add(s.target)
        return reachable([var], self.shared)

    def has_tangent(self, var):
        """Whether var has a tangent here: an active variable, or a differentiated
        parameter (a called function gets a tangent for each of its parameters). A
        stack with a tangent stack is popped in step with it, needed or not."""
        return var in self.active or var in self.wrt

    def take_pending(self):
        pending, self.pending = getattr(self, "pending", []), []
        return pending

    def op_tangent(self, target, op):
        if op.kind == "copy":
            return self.tangent_or_zero(op.node) if op.node.id in self.active else None
        if op.kind == "subscript":
            base = op.node.value
            if base.id not in self.active:
                return None
            return gast.Subscript(value=name(self.grad(base.id)), slice=copy(op.node.slice),
                                  ctx=gast.Load())
        if op.kind == "field":      # y = x.attr: the part of x's tangent attr names
            base = op.args[0].id
            if base not in self.active:
                return None
            key = call(self.runtime("field_key"), name(base), const(op.attr))
            return call(self.runtime("item_grad"), name(self.grad(base)), key)
        if op.kind == "literal":
            elements = [self.tangent_or_zero(n) for n in op.elements.values()]
            if isinstance(op.node, gast.Dict):
                return gast.Dict(keys=[copy(k) for k in op.node.keys], values=elements)
            return type(op.node)(elts=elements, ctx=gast.Load())
        if op.kind == "rule":
            return self.rule_tangent(target, op)
        if op.kind == "pop" and op.args[0].id in self.active:
            stack = gast.Attribute(value=name(self.grad(op.args[0].id)), attr="pop",
                                   ctx=gast.Load())
            return call(stack)
        return None

    def rule_tangent(self, target, op):
        template = rules.TANGENTS.get(op.primitive)
        if template is None:
            raise self.function.error(NoDerivativeError, op.node,
                                      f"no forward rule for {op.description}: register "
                                      "one with @srcad.tangent")
        bindings = template.bind(op.args, op.keywords)
        arrays, read = self.array_arguments(op, bindings)
        tangent_arrays, tangents = self.array_arguments(
            op, {p: name(self.grad(n.id)) for p, n in bindings.items()
                 if isinstance(n, gast.Name) and n.id in self.active and read[p] is not n},
            names=set(self.gradients.values()))

        def tangent_of(param):
            node = bindings.get(param)
            if isinstance(node, gast.Name) and node.id in self.active:
                return copy(tangents.get(param, name(self.grad(node.id))))
            return None

        result = name(target) if target is not None else const(None)
        statements, expression, dropped = template.expand_tangent(
            result, read, tangent_of, self.namer.fresh, self.template_names(template))
        if expression is None:
            return None
        used = names_in(expression, gast.Load).union(     # tanh's reads no argument
            *(names_in(s, gast.Load) for s in statements))
        self.pending = [a for a in arrays + tangent_arrays if a.targets[0].id in used] \
            + statements
        reverse = rules.ADJOINTS.get(op.primitive)
        broadcasting = reverse is not None and "unbroadcast" in reverse.free
        if dropped and broadcasting and target is not None and not all(
                self.same_shape(op, p, bindings) for p in bindings if tangent_of(p) is not None):
            expression = call(self.runtime("fit"), expression, name(target))
        elif target is not None and op.primitive is runtime.accumulate \
                and None in (tangent_of("total"), tangent_of("g")):
            # a gradient's total 0.0 and an array: the tangent 0.0 + 0.0, shaped like it
            expression = call(self.runtime("fit"), expression, name(target))
        return expression

    def user_call(self, node, target, op):
        callee = op.callee
        signature, bound = self.bind_callee(node, op)
        kinds = {}
        for param, p in signature.parameters.items():
            if param in bound.arguments:
                kinds[param] = self.node_kind(bound.arguments[param])
            else:
                kinds[param] = runtime_kind(p.default)
        wrt = self.callee_wrt(signature, bound)
        tangents = [name(self.grad(bound.arguments[p].id)) for p in wrt]
        generated = self.module.callee(callee, kinds, wrt, (self.function, node),
                                       self.callee_shapes(bound, kinds))
        self.helpers[generated.jvp_name] = generated
        value = gast.Call(func=name(generated.jvp_name), args=tangents + list(op.args),
                          keywords=call_keywords(op))
        if target is None:
            if isinstance(node, gast.Assign):   # the value is not needed, the call's effect is
                return assign(gast.Tuple(elts=[copy(node.targets[0]), name("_", store=True)],
                                         ctx=gast.Store()), value)
            return gast.Expr(value=value)
        pair = gast.Tuple(elts=[name(target, store=True), name(self.grad(target), store=True)],
                          ctx=gast.Store())
        return assign(pair, value)

    def subscript_write(self, node, target):
        base = target.value.id
        if base not in self.active:
            return [node]
        store = gast.Subscript(value=name(self.grad(base)), slice=copy(target.slice),
                               ctx=gast.Store())
        tangent = assign(store, self.tangent_or_zero(node.value))
        return floating_check(self, node) + [node, tangent]

    def append(self, node, op):
        receiver = node.value.func.value.id
        if receiver not in self.active:
            return [node]
        method = gast.Attribute(value=name(self.grad(receiver)), attr="append", ctx=gast.Load())
        return [node, gast.Expr(value=call(method, self.tangent_or_zero(op.args[0])))]


class ForwardModule(GeneratedModule):
    """All functions one forward-mode transform generates, each specialized to kinds."""

    def generate(self, fn, function, tree, wrt, param_kinds, is_callee, shapes, real=False,
                 floating=frozenset()):
        name_ = self.fresh(fn.__name__ + "_jvp", function)
        generated = ForwardFunction(self, function, tree, wrt, param_kinds, name_, is_callee,
                                    shapes)
        self.started(fn, param_kinds, generated, is_callee)
        definition = generated.build()
        self.after("forward", fn.__qualname__, [definition])
        definition.body = optimize_forward(definition.body, generated.gradients.values(),
                                           generated.helpers)
        generated.definitions = [definition]
        return generated

    def narrow_records(self):
        """Forward mode over reverse-mode code (an hvp): the tangents of the record a
        primal pushes last that its adjoint, popping it first, never reads are not
        computed (`None` is pushed in their place): the tangent of a value the adjoint
        reads for its shape, or only through a zero derivative."""
        by_fn = {}
        for g in self.functions:
            by_fn.setdefault(g.function.fn, []).append(g)
        generated = {g.jvp_name for g in self.functions}
        for g in self.functions:
            primal = getattr(g.function.fn, "srcad_primal", None)
            if primal is None or len(by_fn.get(primal, ())) != 1 or len(by_fn[g.function.fn]) != 1:
                continue
            p = by_fn[primal][0]
            read = _first_record_read(g, generated)
            narrowed = read is not None and _narrow_last_record(p, read, generated)
            if narrowed | self.drop_unread_result(p):
                p.definitions[0].body = optimize_forward(p.definitions[0].body,
                                                         p.gradients.values(), p.helpers)

    def drop_unread_result(self, p):
        """Return None for the tangent of a primal's value where every call of its jvp
        drops it (`_, _ = f_primal_jvp(...)`: a gradient needs the record, not the
        value); whether it did."""
        calls = [n for g in self.functions for d in g.definitions for n in walk(d)
                 if isinstance(n, gast.Assign) and isinstance(n.value, gast.Call)
                 and isinstance(n.value.func, gast.Name) and n.value.func.id == p.jvp_name]
        uses = sum(isinstance(n, gast.Name) and n.id == p.jvp_name
                   for g in self.functions for d in g.definitions for n in walk(d))
        if not calls or uses != len(calls) or not all(
                isinstance(c.targets[0], gast.Tuple) and len(c.targets[0].elts) == 2
                and isinstance(c.targets[0].elts[1], gast.Name)
                and c.targets[0].elts[1].id == "_" for c in calls):
            return False
        ret = p.definitions[0].body[-1]
        if not isinstance(ret, gast.Return) or not isinstance(ret.value, gast.Tuple) \
                or len(ret.value.elts) != 2:
            return False
        ret.value.elts[1] = const(None)
        return True


def _tangent_stack(g):
    """The name of the tangent of a generated primal's or adjoint's stack, or None."""
    params = g.analysis.params
    return g.gradients.get(params[0]) if params and params[0] in g.active else None


def _stack_calls(node, generated):
    """Whether node pushes or pops a stack, or calls generated code (which may)."""
    for n in walk(node):
        if isinstance(n, gast.Call):
            f = n.func
            if isinstance(f, gast.Attribute) and f.attr in ("append", "pop") \
                    or isinstance(f, gast.Name) and f.id in generated:
                return True
    return False


def _first_record_read(g, generated):
    """The positions of the tangent record an adjoint's jvp pops first that it reads
    (`dvalues[1]`), or None where it is not that simple."""
    dstack = _tangent_stack(g)
    stack = g.analysis.params[0] if g.analysis.params else None
    body = g.definitions[0].body
    for i, stmt in enumerate(body):
        value = getattr(stmt, "value", None)
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                and value.func.attr == "pop" and isinstance(value.func.value, gast.Name) \
                and value.func.value.id == stack:
            continue        # the record itself, popped in step with its tangents
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                and value.func.attr == "pop" and isinstance(value.func.value, gast.Name) \
                and value.func.value.id == dstack and dstack is not None:
            if isinstance(stmt, gast.Expr):
                return set()
            if not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
                return None
            record = stmt.targets[0].id
            return _positions_read(body[i + 1:], record)
        if _stack_calls(stmt, generated):
            return None
    return None


def _positions_read(body, record):
    positions = set()
    parents = {}
    for stmt in body:
        for n in walk(stmt):
            for child in gast.iter_child_nodes(n):
                parents[id(child)] = n
            if isinstance(n, gast.Name) and n.id == record:
                if isinstance(n.ctx, gast.Store):
                    return None
                parent = parents.get(id(n))
                if not (isinstance(parent, gast.Subscript) and parent.value is n
                        and isinstance(parent.slice, gast.Constant)
                        and type(parent.slice.value) is int):
                    return None
                positions.add(parent.slice.value)
    return positions


def _narrow_last_record(p, read, generated):
    """Push None for the tangents at positions not in read of the record a primal's jvp
    pushes last; whether it did."""
    dstack = _tangent_stack(p)
    body = p.definitions[0].body
    for i in range(len(body) - 1, -1, -1):
        stmt = body[i]
        value = getattr(stmt, "value", None)
        if isinstance(stmt, gast.Expr) and isinstance(value, gast.Call) \
                and isinstance(value.func, gast.Attribute) and value.func.attr == "append" \
                and isinstance(value.func.value, gast.Name) and dstack is not None \
                and value.func.value.id == dstack and len(value.args) == 1 \
                and isinstance(value.args[0], gast.Name):
            return _none_unread(body[:i], value.args[0].id, read)
        if _stack_calls(stmt, generated):
            return False
    return False


def _none_unread(before, record, read):
    """In the assignment `record = (...)` among before, None at positions not in read."""
    for stmt in reversed(before):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) \
                and stmt.targets[0].id == record:
            if not isinstance(stmt.value, gast.Tuple):
                return False
            elts = stmt.value.elts
            stmt.value.elts = [e if k in read else const(None) for k, e in enumerate(elts)]
            return True
    return False
