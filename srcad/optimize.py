"""Stage 6: tidy the generated adjoint so that it reads, and runs, like hand-written code.

* constant folding: `x ** (2 - 1)` from an inlined rule becomes `x`;
* first contributions: where a gradient is known to be zero, `dx = dx + g`
  becomes `dx = g` (unless dx is later updated in place, which must not
  write into g);
* dead stores: a gradient set to zero and overwritten before it is read is
  not set at all.

The passes work on structured code (if, for, while) with small dataflow
fixpoints for loops. They only touch gradient variables, never the stack.
"""
import operator

import gast

from .syntax import const

FOLDABLE = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
            gast.Pow: operator.pow}


def optimize(body, gradients, in_place):
    """Optimize an adjoint body. gradients: gradient names; in_place: gradient names
    whose arrays or lists the adjoint updates in place."""
    body = [Fold().visit(s) for s in body]
    FirstContributions(gradients, in_place).block(body, set())
    return tidy(remove_dead_stores(body, set(gradients)))


class Fold(gast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if _number(left) and _number(right) and type(node.op) in FOLDABLE:
            return const(FOLDABLE[type(node.op)](left.value, right.value))
        if isinstance(node.op, gast.Pow) and _number(right) and right.value == 1:
            return left
        if isinstance(node.op, gast.Mult) and _number(right) and right.value == 1:
            return left
        if isinstance(node.op, gast.Mult) and _number(left) and left.value == 1:
            return right
        return node


def _number(node):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float)


def _is_zero(node):
    return isinstance(node, gast.Constant) and type(node.value) is float and node.value == 0.0


def _assigned_name(stmt):
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


class FirstContributions:
    """Forward dataflow of 'known zero' gradients; rewrites first contributions."""

    def __init__(self, gradients, in_place):
        self.gradients = set(gradients)
        self.in_place = set(in_place)

    def block(self, body, zero, rewrite=True):
        zero = set(zero)
        for stmt in body:
            zero = self.statement(stmt, zero, rewrite)
        return zero

    def statement(self, stmt, zero, rewrite):
        if isinstance(stmt, gast.If):
            return self.block(stmt.body, zero, rewrite) & self.block(stmt.orelse, zero, rewrite)
        if isinstance(stmt, (gast.For, gast.While)):
            entry = set(zero)
            while True:
                end = self.block(stmt.body, entry, rewrite=False)
                if entry <= end:
                    break
                entry &= end
            self.block(stmt.body, entry, rewrite)
            return entry
        target = _assigned_name(stmt)
        if target is not None and target in self.gradients:
            if _is_zero(stmt.value):
                return zero | {target}
            if rewrite and target in zero and target not in self.in_place:
                stmt.value = self.first(target, stmt.value)
            return zero - {target}
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                zero = zero - {node.id}
        return zero

    def first(self, target, value):
        """`dx + g` or `accumulate(dx, g)` with dx zero: just g."""
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) \
                and isinstance(value.left, gast.Name) and value.left.id == target:
            return value.right
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) \
                and value.func.id.startswith("accumulate") and len(value.args) == 2 \
                and isinstance(value.args[0], gast.Name) and value.args[0].id == target:
            return value.args[1]
        return value


def remove_dead_stores(body, tracked):
    return _remove(body, set(), tracked)


def _remove(body, live_after, tracked):
    out = []
    live = set(live_after)
    for stmt in reversed(body):
        target = _assigned_name(stmt)
        if target in tracked and target not in live and _pure(stmt.value):
            continue
        if isinstance(stmt, gast.If):
            stmt.body = _remove(stmt.body, live, tracked)
            stmt.orelse = _remove(stmt.orelse, live, tracked)
            if not stmt.body:
                stmt.body = [gast.Pass()]
        elif isinstance(stmt, (gast.For, gast.While)):
            loop_live = _loop_live(stmt, live)
            stmt.body = _remove(stmt.body, loop_live, tracked) or [gast.Pass()]
        live = _live_before([stmt], live)
        out.append(stmt)
    return out[::-1]


def _loop_live(loop, live_after):
    """Variables live at the end of a loop body: after the loop, or in the next iteration."""
    live = set(live_after)
    while True:
        new = live_after | _live_before(loop.body, live)
        if new <= live:
            return live
        live |= new


def _live_before(body, live_after):
    live = set(live_after)
    for stmt in reversed(body):
        if isinstance(stmt, gast.If):
            live = _live_before(stmt.body, live) | \
                _live_before(stmt.orelse, live) | _reads(stmt.test)
        elif isinstance(stmt, (gast.For, gast.While)):
            loop_live = _loop_live(stmt, live)
            live = live | _live_before(stmt.body, loop_live) | \
                _reads(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
        else:
            target = _assigned_name(stmt)
            if target is not None:
                live = live - {target}
            live |= _reads(stmt)
    return live


def _reads(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _pure(value):
    return not any(isinstance(n, gast.Call) for n in gast.walk(value))


def tidy(body):
    """After statements were removed: drop `if`s and loops left with no code (unless their
    test pops the stack) and comments that no code follows; give empty bodies a `pass`."""
    from .generate import is_marker
    out = []
    for stmt in body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt.body = tidy(stmt.body)
            stmt.orelse = tidy(stmt.orelse)
            head = stmt.test if not isinstance(stmt, gast.For) else stmt.iter
            if not _has_code(stmt.body) and not _has_code(stmt.orelse) and not _pops(head):
                continue
            if isinstance(stmt, gast.If) and not _has_code(stmt.body) \
                    and _has_code(stmt.orelse):
                stmt.test = gast.UnaryOp(op=gast.Not(), operand=stmt.test)
                stmt.body, stmt.orelse = stmt.orelse, []
            if not _has_code(stmt.orelse):
                stmt.orelse = []
            if not _has_code(stmt.body):
                stmt.body = [gast.Pass()]
        elif isinstance(stmt, gast.Pass):
            continue
        out.append(stmt)
    return [stmt for i, stmt in enumerate(out)
            if not (is_marker(stmt) and (i + 1 == len(out) or is_marker(out[i + 1])
                                         or isinstance(out[i + 1], gast.Return)))]


def _has_code(body):
    from .generate import is_marker
    return any(not is_marker(s) and not isinstance(s, gast.Pass) for s in body)


def _pops(node):
    return any(isinstance(n, gast.Attribute) and n.attr == "pop" for n in gast.walk(node))


# -- the primal that grad runs: what the adjoint needs, not the value ----------------------

PURE_MODULES = ("numpy", "math", "_operator", "operator", "builtins", "cmath")


def lean_primal(definition, new_name, worth=lambda stmt: True):
    """A copy of a primal FunctionDef without the statements that only compute the
    function's value (grad does not return it): their results reach neither the
    stack nor a branch or loop. Returns None where nothing would be left out.

    Only operations known to be pure are left out (NumPy, math and operator
    functions, copies, subscript reads, comparisons), never calls of generated
    code, random numbers or in-place updates. worth(statement): whether leaving that
    statement out saves enough to generate a second primal (None unless one does)."""
    removed = []
    body, _ = _lean(definition.body[:-1], set(), removed)
    if not any(worth(stmt) for stmt in removed):
        return None
    from .reverse import _clean   # comments no code follows, empty blocks
    body = _clean(body) + [gast.Return(value=const(None))]
    return gast.FunctionDef(name=new_name, args=definition.args, body=body,
                            decorator_list=[], returns=None, type_comment=None,
                            type_params=[])


def _removable(stmt):
    from .rules.runtime import MUTATING
    op = getattr(stmt, "op", None)
    if _assigned_name(stmt) is None or op is None:
        return False
    if op.kind in ("copy", "subscript", "literal"):
        return True
    if op.kind == "zero":
        return not any(isinstance(n, gast.Call) for n in gast.walk(stmt.value))
    if op.kind != "rule":
        return False
    primitive = op.primitive
    module = getattr(primitive, "__module__", None) or ""
    if isinstance(primitive, str) or "random" in module:
        return False
    try:
        if primitive in MUTATING:
            return False
    except TypeError:
        return False
    return module.split(".")[0] in PURE_MODULES or isinstance(primitive, __import__("numpy").ufunc)


def _lean(body, live_after, removed):
    live = set(live_after)
    out = []
    for stmt in reversed(body):
        if isinstance(stmt, gast.If):
            b, lb = _lean(stmt.body, live, removed)
            o, lo = _lean(stmt.orelse, live, removed)
            stmt = gast.If(test=stmt.test, body=b or [gast.Pass()], orelse=o)
            live = lb | lo | _reads(stmt.test)
        elif isinstance(stmt, (gast.For, gast.While)):
            head = _reads(stmt.iter if isinstance(stmt, gast.For) else stmt.test)
            loop_live = set(live) | head
            while True:
                _, lb = _lean(stmt.body, loop_live, [])
                new = live | lb | head
                if new <= loop_live:
                    break
                loop_live |= new
            b, lb = _lean(stmt.body, loop_live, removed)
            if isinstance(stmt, gast.For):
                stmt = gast.For(target=stmt.target, iter=stmt.iter, body=b or [gast.Pass()],
                                orelse=[], type_comment=None)
            else:
                stmt = gast.While(test=stmt.test, body=b or [gast.Pass()], orelse=[])
            live = live | lb | head
        elif _removable(stmt) and _assigned_name(stmt) not in live:
            removed.append(stmt)
            continue
        else:
            target = _assigned_name(stmt)
            if target is not None:
                live = live - {target}
            live |= _reads(stmt)
        out.append(stmt)
    return out[::-1], live
