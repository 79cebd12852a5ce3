"""Stage 6: tidy the generated adjoint so that it reads, and runs, like hand-written code.

* constant folding: `x ** (2 - 1)` from an inlined rule becomes `x`;
* first contributions: where a gradient is known to be zero, `dx = dx + g`
  becomes `dx = g` (unless dx is later updated in place, which must not
  write into g);
* dead stores: a gradient set to zero and overwritten before it is read is
  not set at all.

The passes work on structured code (if, for, while), with the dataflow helpers of
dataflow.py (the reads and writes of each statement found once per pass, one
fixpoint at each loop's head). They only touch gradient variables, never the stack.
"""
import bisect
import math
import operator

import gast
import numpy as np

from . import runtime
from .dataflow import COMPOUND, Facts, assigned_name as _assigned_name, counts, \
    live_in_loop, live_through, loop_head
from .generate import is_marker
from .shapes import broadcast
from .syntax import const, copy, name, names_in, walk
from .updates import merge_updates

FOLDABLE = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
            gast.Pow: operator.pow}


def optimize(body, gradients, in_place, helpers, shapes=None, seeds=(), nonzero=None,
             seed_or_zeros=None, numeric=(), floating=(), scalars=None, returned=None,
             gives=None):
    """Optimize an adjoint body. gradients: gradient names; in_place: gradient names
    whose arrays or lists the adjoint updates in place; shapes: what is known of the
    shapes of expressions (reverse.AdjointShapes), for the arithmetic passes; seeds:
    incoming gradients known to be more than the zero 0.0; nonzero(dy): the test that
    dy is; seed_or_zeros(dy, y): dy, or zeros shaped like y where dy is still 0.0, for
    a called function's adjoint (reverse.Pullback, ZeroPullbacks); helpers: the
    generated code's helpers (for updates.merge_updates); numeric: primal variables
    whose values are numbers, never booleans (Analysis.numeric); floating: names of
    arrays or numbers of floats nothing updates in place, which a gradient may become
    (`db = 1.0 * b` -> `db = b`); scalars: a set that gets the gradients made scalars
    (scalar_fills), for optimize_seeded; returned(call): which of the gradients a
    called function's adjoint returns are known more than the zero 0.0 (a tuple of
    bools, ZeroPullbacks.returned), or None; gives: a list that gets the same of body's
    own return."""
    gradients = set(gradients)
    body = [Fold().visit(s) if _foldable(s) else s for s in body]
    end = ZeroPullbacks(gradients, nonzero, seed_or_zeros, returned).block(
        body, (frozenset(), frozenset(seeds)))
    if gives is not None:
        gives.extend(ZeroPullbacks.returned(body, end))
    FirstContributions(gradients, in_place).block(body, set())
    body = merge_updates(tidy(remove_dead_stores(body, gradients)), helpers)
    if shapes is None:
        return body
    body = propagate_copies(body, gradients, in_place)
    made = scalar_fills(body, gradients, in_place, shapes.shape_of, shapes.expected)
    if scalars is not None:
        scalars |= made
    body = propagate_copies(body, gradients, in_place)
    fold_scalars(body, gradients, in_place, lambda node: shapes.scalar(node, made), helpers,
                 numeric, floating)
    return tidy(remove_dead_stores(body, gradients, zeroing=_zeroing(helpers)))


def optimize_seeded(body, gradients, in_place, helpers, shapes, scalars, numeric=(),
                    floating=()):
    """An optimized adjoint body whose seed's reads became the constant 1.0
    (reverse.ReverseFunction.seeded), optimized again by the passes the constant gives
    work to: folded (`dsum = 1.0 * 0.5`), propagated to its readers, folded there
    (`1.0 * 2 * y`), scalar factors gathered (`0.5 * 2 * b` is b), and the copies
    that makes propagated. scalars: the gradients optimize made scalars."""
    gradients = set(gradients)
    body = [Fold().visit(s) if _foldable(s) else s for s in body]
    body = propagate_copies(body, gradients, in_place)
    body = [Fold().visit(s) if _foldable(s) else s for s in body]
    fold_scalars(body, gradients, in_place, lambda node: shapes.scalar(node, scalars),
                 helpers, numeric, floating)
    body = propagate_copies(body, gradients, in_place)
    return tidy(remove_dead_stores(body, gradients, zeroing=_zeroing(helpers)))


def _zeroing(helpers):
    return {n for n, h in helpers.items() if h is runtime.take_at}


def parts_left_as_they_are(body, helpers, part):
    """`take_at(dz, index)` reads the gradient of what a write `z[index] = v` stored and
    zeroes that part of dz, for the adjoints of earlier writes into it. Where nothing
    reads that part after (dz is dead there, or read after in the same block only by
    take_at at constant indices that are no part of it, and dead at the block's end),
    it is read alone: `part()`, the name of runtime.part_of. Whether any was."""
    names = _zeroing(helpers)
    if not names:
        return False
    return _parts(body, set(), Facts(body), names, part)


def _parts(body, live_after, facts, names, part):
    lives, live = [], set(live_after)
    for stmt in reversed(body):
        lives.append(live)
        live = live_through(stmt, live, facts)
    lives.reverse()
    changed, idle = False, set()
    for i, stmt in enumerate(body):
        if isinstance(stmt, gast.If):
            changed |= _parts(stmt.body, lives[i], facts, names, part)
            changed |= _parts(stmt.orelse, lives[i], facts, names, part)
            continue
        if isinstance(stmt, (gast.For, gast.While)):
            changed |= _parts(stmt.body, live_in_loop(stmt, lives[i], facts), facts, names, part)
            continue
        for node in _taken(stmt, names):
            total = node.args[0].id
            if names_in(stmt, gast.Store) & {total} or sum(
                    n.id == total for n in walk(stmt) if isinstance(n, gast.Name)) != 1:
                continue
            if total not in lives[i] or total not in live_after and _other_parts_only(
                    body[i + 1:], total, _span(node.args[1]), names):
                node.func = name(part())
                changed = True
                if isinstance(stmt, gast.Expr) and stmt.value is node:
                    idle.add(i)     # a take_at kept only to zero: now it does nothing
    body[:] = [stmt for i, stmt in enumerate(body) if i not in idle]
    return changed


def _taken(stmt, names):
    """The calls `take_at(dz, index)` in stmt (dz a name)."""
    return [n for n in walk(stmt) if isinstance(n, gast.Call) and isinstance(n.func, gast.Name)
            and n.func.id in names and len(n.args) == 2 and isinstance(n.args[0], gast.Name)]


def _other_parts_only(stmts, total, span, names):
    """Whether stmts (plain statements) read total only as take_at of constant indices
    whose span (_span) on the first axis is apart from span, and never assign it."""
    if span is None:
        return False
    for stmt in stmts:
        if isinstance(stmt, (gast.If, gast.For, gast.While)) or total in names_in(stmt, gast.Store):
            return False
        taken = [n for n in _taken(stmt, names) if n.args[0].id == total]
        reads = sum(n.id == total for n in walk(stmt) if isinstance(n, gast.Name))
        if reads != len(taken) or any(not _apart(span, _span(n.args[1])) for n in taken):
            return False
    return True


def _span(index):
    """(start, stop) on the first axis of a constant index `k` or `slice(a, b)` with
    bounds of 0 or more (stop None: to the end), else None."""
    if isinstance(index, gast.Constant) and type(index.value) is int and index.value >= 0:
        return (index.value, index.value + 1)
    if isinstance(index, gast.Call) and isinstance(index.func, gast.Name) \
            and index.func.id == "slice" and 1 <= len(index.args) <= 3 and not index.keywords:
        bounds = [a.value if isinstance(a, gast.Constant) else False for a in index.args]
        if len(bounds) == 1:
            bounds = [None] + bounds
        start, stop, step = (bounds + [None])[:3]
        start = 0 if start is None else start
        if type(start) is int and start >= 0 and step in (None, 1) \
                and (stop is None or type(stop) is int and stop >= 0):
            return (start, stop)
    return None


def _apart(a, b):
    """Whether two spans (_span) share no index; False where either is None."""
    if a is None or b is None:
        return False
    return a[1] is not None and a[1] <= b[0] or b[1] is not None and b[1] <= a[0]


def optimize_forward(body, tangents, helpers=None):
    """Optimize a forward-mode body: arithmetic on constants in a tangent's value folded
    (`dpow = derr * 2 * err ** (2 - 1)` becomes `derr * 2 * err`) where the value stays
    arithmetic, so new memory (never a name or view that a later in-place write could
    change), and tangents computed and never read left out, calls of NumPy and of
    srcad's helpers that write nothing included (helpers: the code's names of objects)."""
    tangents = set(tangents)
    for block in _blocks(body):
        for stmt in block:
            if _assigned_name(stmt) in tangents and _arithmetic(stmt.value) \
                    and _pure(stmt.value) and _foldable(stmt.value):
                value = Fold().visit(stmt.value)
                if _arithmetic(value) or isinstance(value, gast.Constant):
                    stmt.value = value
    return tidy(remove_dead_stores(body, tangents, _pure_calls(helpers or {})))


def _pure_calls(helpers):
    """Whether a call node calls NumPy or a helper of srcad's runtime that writes
    nothing, by the objects the code's names stand for."""
    from . import runtime
    from .rules.runtime import MUTATING

    def pure_call(node):
        func = node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            return helpers.get(func.value.id) is np and not func.attr.startswith("random")
        if not isinstance(func, gast.Name):
            return False
        obj = helpers.get(func.id)
        if getattr(obj, "__module__", None) == runtime.__name__:
            return obj not in MUTATING and obj is not runtime.check_floating
        return isinstance(obj, np.ufunc)
    return pure_call


def _arithmetic(node):
    return isinstance(node, (gast.BinOp, gast.UnaryOp))


class Fold(gast.NodeTransformer):
    """Arithmetic on numbers done; `a ** 1`, `a * 1` and `1 * a` are a, except the whole
    value of an assignment, which stays new memory (`dt = 1.0 * a` must not make dt
    the array a, which the adjoint may restore in place: fold_scalars knows when)."""

    top = None

    def visit_Assign(self, node):
        self.top = node.value
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if _number(left) and _number(right) and type(node.op) in FOLDABLE:
            return const(FOLDABLE[type(node.op)](left.value, right.value))
        kept = None
        if isinstance(node.op, (gast.Pow, gast.Mult)) and _number(right) and right.value == 1:
            kept = left
        elif isinstance(node.op, gast.Mult) and _number(left) and left.value == 1:
            kept = right
        if kept is None or node is self.top and isinstance(kept, gast.Name):
            return node
        return kept


def _foldable(tree):
    """Whether Fold changes anything in tree (a look that is quicker than Fold)."""
    for node in walk(tree):
        if isinstance(node, gast.BinOp) and (_number(node.right) and (
                _number(node.left) or isinstance(node.op, (gast.Pow, gast.Mult))
                and node.right.value == 1) or isinstance(node.op, gast.Mult)
                and _number(node.left) and node.left.value == 1):
            return True
    return False


def _number(node):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float)


def _is_zero(node):
    return isinstance(node, gast.Constant) and type(node.value) is float and node.value == 0.0


class ZeroPullbacks:
    """Forward dataflow of two facts about each gradient: it is the zero 0.0 it starts as
    (or is reset to when its variable is overwritten), or it is known to be more than
    that (an array, a NumPy or nonzero number). The adjoint statements of an assignment
    (tagged `srcad_pullback` by reverse.py) are linear in the target's gradient dy: where
    dy is the zero 0.0 they are dropped, and where it may be, those of a rule that can
    fail on a plain float (`dy[::-1]`, `dy @ b`, `np.sum(dy, axis=1)`) run under
    `if nonzero_gradient(dy):`. A called function's adjoint gets `seed_or_zeros(dy, y)`
    where dy may be 0.0, and gives back gradients as its own state at its return says
    (returned(call), see `returned`). A state is (zero, more): two sets of gradient
    names."""

    def __init__(self, gradients, nonzero, seed_or_zeros=None, returned=None):
        self.gradients = set(gradients)
        self.nonzero = nonzero
        self.seed_or_zeros = seed_or_zeros
        self.called = returned or (lambda call: None)

    @staticmethod
    def returned(body, state):
        """Which of the gradients body returns are known, in state (the state at its end),
        to be more than the zero 0.0 and shaped like their variables, as a caller's rules
        may need (made by add_at: a gradient more than 0.0 may be a NumPy zero, `s * 0.0`):
        a tuple of bools, one per returned value."""
        value = body[-1].value
        values = value.elts if isinstance(value, gast.Tuple) else [value]
        made = {}
        for stmt in (n for s in body for n in walk(s) if isinstance(n, gast.stmt)
                     and not isinstance(n, COMPOUND)):
            target = _assigned_name(stmt)
            if target is not None:
                made[target] = made.get(target, True) and (_is_zero(stmt.value) or (
                    isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Name)
                    and stmt.value.func.id.startswith("add_at")))
            else:
                made.update((n.id, False) for n in walk(stmt)
                            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store))
        return tuple(isinstance(v, gast.Name) and v.id in state[1] and made.get(v.id, False)
                     for v in values)

    def block(self, body, state, rewrite=True):
        state = (set(state[0]), set(state[1]))      # this block's own, updated in place
        out = []
        i = 0
        while i < len(body):
            pullback = getattr(body[i], "srcad_pullback", None)
            if pullback is None:
                state = self.statement(body[i], state, rewrite, None)
                out.append(body[i])
                i += 1
                continue
            j = i
            while j < len(body) and getattr(body[j], "srcad_pullback", None) is pullback:
                j += 1
            group, i = body[i:j], j
            zero, more = state
            dy = pullback.dy
            if dy in zero:
                continue            # dropped (where rewriting)
            if pullback.guarded and dy not in more and self.nonzero is not None:
                inside = self.run(group, (zero - {dy}, more | {dy}), rewrite, pullback)
                state = (zero & inside[0], more & inside[1])
                if rewrite:
                    group = [gast.If(test=self.nonzero(dy), body=group, orelse=[])]
            else:
                state = self.run(group, state, rewrite, pullback)
            out.extend(group)
        if rewrite:
            body[:] = out
        return state

    def run(self, stmts, state, rewrite, pullback):
        for stmt in stmts:
            state = self.statement(stmt, state, rewrite, pullback)
        return state

    def statement(self, stmt, state, rewrite, pullback):
        zero, more = state
        seed = getattr(stmt, "srcad_call_seed", None)
        if seed is not None and seed[0] not in more and rewrite and self.seed_or_zeros:
            # a called function's adjoint runs whatever its seed (it pops what its primal
            # pushed), and its rules may index the seed: never give it the float 0.0
            replaced = self.seed_or_zeros(*seed)
            if replaced is not None:
                stmt.value.args[1] = replaced
                stmt.srcad_call_seed = None
        if isinstance(stmt, gast.If):
            a = self.block(stmt.body, state, rewrite)
            b = self.block(stmt.orelse, state, rewrite)
            return (a[0] & b[0], a[1] & b[1])
        if isinstance(stmt, (gast.For, gast.While)):
            entry = loop_head(state, lambda s: self.block(list(stmt.body), s, rewrite=False),
                              lambda a, b: (a[0] & b[0], a[1] & b[1]))
            self.block(stmt.body, entry, rewrite)
            return entry
        target = _assigned_name(stmt)
        if target is not None and target in self.gradients:
            if _is_zero(stmt.value):
                zero.add(target)
                more.discard(target)
            elif (pullback is not None and pullback.dy in more) or self.more(stmt.value, more):
                zero.discard(target)
                more.add(target)
            else:
                zero.discard(target)
                more.discard(target)
            return state
        stored = {node.id for node in walk(stmt)
                  if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store)}
        zero -= stored
        more -= stored
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Tuple) \
                and isinstance(stmt.value, gast.Call):
            given = self.called(stmt.value) or ()
            more |= {t.id for t, known in zip(stmt.targets[0].elts, given)
                     if known and isinstance(t, gast.Name)}
        return state

    def more(self, value, more):
        """Whether value is known to be more than the zero 0.0."""
        if isinstance(value, gast.Name):
            return value.id in more
        if _number(value):          # from the seed 1.0 (reverse.ReverseFunction.seeded)
            return value.value != 0
        if isinstance(value, gast.BinOp):
            return self.more(value.left, more) or self.more(value.right, more)
        if isinstance(value, gast.Call):
            func = value.func
            if isinstance(func, gast.Attribute):     # np.full(...), g.reshape(...): NumPy's
                return True
            if isinstance(func, gast.Name) and func.id.startswith("add_at"):
                return True
            if self.called(value) == (True,):       # a called function's adjoint
                return True
            if isinstance(func, gast.Name) and func.id.startswith(("unbroadcast", "take_at")) \
                    and value.args:                  # a part, or a sum, of a known gradient
                return self.more(value.args[0], more)
        return False


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
            entry = loop_head(set(zero), lambda z: self.block(stmt.body, z, rewrite=False),
                              set.intersection)
            self.block(stmt.body, entry, rewrite)
            return entry
        target = _assigned_name(stmt)
        if target is not None and target in self.gradients:
            if _is_zero(stmt.value):
                zero.add(target)
                return zero
            if rewrite and target in zero:
                first = self.first(target, stmt.value)
                if target not in self.in_place or isinstance(first, (gast.BinOp, gast.UnaryOp)):
                    stmt.value = first      # (arithmetic makes a new value: owned)
            zero.discard(target)
            return zero
        for node in walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                zero.discard(node.id)
        return zero

    def first(self, target, value):
        """`dx + g` or `accumulate(dx, g)` with dx zero: just g; `dx + g + h`: `g + h`."""
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add):
            if isinstance(value.left, gast.Name) and value.left.id == target:
                return value.right
            left = self.first(target, value.left)
            if left is not value.left:
                return gast.BinOp(left=left, op=value.op, right=value.right)
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) \
                and value.func.id.startswith("accumulate") and len(value.args) == 2 \
                and isinstance(value.args[0], gast.Name) and value.args[0].id == target:
            return value.args[1]
        return value


def remove_dead_stores(body, tracked, pure_call=None, zeroing=()):
    """body without the assignments of names in tracked that nothing reads after, whose
    values call nothing (or only what pure_call(call node) allows), and without the
    calls `take_at(dx, index)` (zeroing: the names take_at has) kept for zeroing part of
    a gradient dx in tracked that nothing reads after."""
    def dead(stmt, live):
        target = _assigned_name(stmt)
        if target is not None:
            return target in tracked and target not in live and _pure(stmt.value, pure_call)
        value = stmt.value if isinstance(stmt, gast.Expr) else None
        return isinstance(value, gast.Call) and isinstance(value.func, gast.Name) \
            and value.func.id in zeroing and len(value.args) == 2 \
            and isinstance(value.args[0], gast.Name) and value.args[0].id in tracked \
            and value.args[0].id not in live
    return _remove(body, set(), dead, Facts(body))


def _remove(body, live_after, dead, facts):
    out = []
    live = set(live_after)
    for stmt in reversed(body):
        if dead(stmt, live):
            continue
        if isinstance(stmt, gast.If):
            stmt.body = _remove(stmt.body, live, dead, facts)
            stmt.orelse = _remove(stmt.orelse, live, dead, facts)
            if not stmt.body:
                stmt.body = [gast.Pass()]
        elif isinstance(stmt, (gast.For, gast.While)):
            loop_live = live_in_loop(stmt, live, facts)
            stmt.body = _remove(stmt.body, loop_live, dead, facts) or [gast.Pass()]
        live = live_through(stmt, live, facts)
        out.append(stmt)
    return out[::-1]


def _reads(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _pure(value, pure_call=None):
    return all(not isinstance(n, gast.Call) or pure_call is not None and pure_call(n)
               for n in walk(value))


def tidy(body):
    """After statements were removed: drop `if`s and loops left with no code (unless their
    test pops the stack), assignments of a name to itself (`dx = dx`, left where a copy
    was propagated) and comments that no code follows; give empty bodies a `pass`."""
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
        elif isinstance(stmt, gast.Pass) or _assigned_name(stmt) is not None \
                and isinstance(stmt.value, gast.Name) and stmt.value.id == _assigned_name(stmt):
            continue
        out.append(stmt)
    return [stmt for i, stmt in enumerate(out)
            if not (is_marker(stmt) and (i + 1 == len(out) or is_marker(out[i + 1])
                                         or isinstance(out[i + 1], gast.Return)))]


def clean(body):
    """Drop comment markers that no code follows; give empty bodies a `pass`."""
    out = []
    for stmt in body:
        for field in ("body", "orelse"):
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                setattr(stmt, field, clean(getattr(stmt, field)))
        out.append(stmt)
    kept = []
    for i, stmt in enumerate(out):
        if is_marker(stmt) and (i + 1 == len(out) or is_marker(out[i + 1])):
            continue
        kept.append(stmt)
    for stmt in kept:
        if isinstance(stmt, gast.If) and not _has_code(stmt.body) and _has_code(stmt.orelse):
            stmt.test = gast.UnaryOp(op=gast.Not(), operand=stmt.test)
            stmt.body, stmt.orelse = stmt.orelse, []
        if isinstance(stmt, (gast.If, gast.For, gast.While)) and not _has_code(stmt.body):
            stmt.body = stmt.body + [gast.Pass()]
    return kept


def _has_code(body):
    return any(not is_marker(s) and not isinstance(s, gast.Pass) for s in body)


def _pops(node):
    return any(isinstance(n, gast.Attribute) and n.attr == "pop" for n in walk(node))


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
    body = clean(body) + [gast.Return(value=const(None))]
    return gast.FunctionDef(name=new_name, args=definition.args, body=body,
                            decorator_list=[], returns=None, type_comment=None,
                            type_params=[])


def _removable(stmt):
    op = getattr(stmt, "op", None)
    if _assigned_name(stmt) is None or op is None:
        return False
    return op.kind in ("subscript", "literal") or pure(op)


def pure(op):
    """Whether an Op computes without side effects: no write, no random draw, no call
    of a user function."""
    if op is None:
        return False
    if op.kind == "copy":
        return True
    if op.kind == "zero":       # constants, comparisons, globals' values: pure without calls
        return not any(isinstance(n, gast.Call) for n in walk(op.node))
    if op.kind != "rule":
        return False
    from .rules.runtime import MUTATING
    primitive = op.primitive
    module = getattr(primitive, "__module__", None) or ""
    if isinstance(primitive, str) or "random" in module:
        return False
    try:
        if primitive in MUTATING:
            return False
    except TypeError:
        return False
    return module.split(".")[0] in PURE_MODULES or isinstance(primitive, np.ufunc)


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
            loop_live = loop_head(live | head,
                                  lambda now: now | live | head | _lean(stmt.body, now, [])[1],
                                  set.union)
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


# -- arithmetic the rules leave and a hand-written gradient folds ----------------------------
#
# These passes run on the adjoint after the ones above, where shapes are known at transform
# time (shapes.py). `shape_of(node)` gives the shape of an expression's value where it is
# sure: a tuple (() for a scalar), else None.

def _substitute(node, var, expr):
    """Replace each read of var in node by (a copy of) expr."""
    return _Substitute(var, expr).visit(node)


class _Substitute(gast.NodeTransformer):
    def __init__(self, var, expr):
        self.var, self.expr = var, expr

    def visit_Name(self, n):
        if n.id == self.var and isinstance(n.ctx, gast.Load):
            return copy(self.expr)
        return n


def _blocks(body):
    """Every statement list in body (body itself first)."""
    yield body
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and isinstance(stmt, (gast.If, gast.For, gast.While)):
                yield from _blocks(inner)



def propagate_copies(body, gradients, in_place):
    """`dx = dy` followed by reads of dx: the reads read dy and the copy goes, where dx is
    assigned only there, every read of dx follows it in the same block and dy is not
    reassigned before the last of them. Each pass reads every statement once (the reads
    and writes of each name, indexed per block); passes repeat while one changes."""
    gradients = set(gradients)
    while _propagate_pass(body, gradients, in_place):
        pass
    return body


def _propagate_pass(body, gradients, in_place):
    stores, loads = None, None
    changed = False
    for block in _blocks(body):
        reads, written = zip(*[counts(stmt) for stmt in block]) if block else ((), ())
        if stores is None:      # body's block, the first: counts for the whole function
            stores, loads = _summed(written), _summed(reads)
        readers, writers = {}, {}       # name -> indexes of the statements reading, writing it
        for k in range(len(block)):
            for var in reads[k]:
                readers.setdefault(var, []).append(k)
            for var in written[k]:
                writers.setdefault(var, []).append(k)
        removed = set()
        for i, stmt in enumerate(block):
            dx = _assigned_name(stmt)
            if dx is None or dx not in gradients or dx in in_place or stores.get(dx) != 1:
                continue
            if _number(stmt.value) and stmt.value.value != 0:
                if _constant_propagated(block, i, dx, readers, reads, loads):
                    stores[dx] = 0
                    removed.add(i)
                continue
            if not isinstance(stmt.value, gast.Name):
                continue
            dy = stmt.value.id
            if dy in in_place or dy == dx:
                continue
            uses = [k for k in readers.get(dx, ()) if k > i]
            if not uses or sum(reads[k][dx] for k in uses) != loads.get(dx, 0):
                continue
            last = uses[-1]
            dy_writers = writers.get(dy, ())
            after = bisect.bisect_right(dy_writers, i)
            if after < len(dy_writers) and dy_writers[after] < last:
                continue
            if not isinstance(block[last], gast.Assign) and last in writers.get(dy, ()):
                continue
            if isinstance(block[last], gast.Return):
                continue    # returned gradients keep their names
            dy_name = gast.Name(id=dy, ctx=gast.Load(), annotation=None, type_comment=None)
            for k in uses:
                block[k] = _substitute(block[k], dx, dy_name)
                reads[k][dy] = reads[k].get(dy, 0) + reads[k].pop(dx)
            dy_readers = readers.setdefault(dy, [])
            for k in uses:
                at = bisect.bisect_left(dy_readers, k)
                if at == len(dy_readers) or dy_readers[at] != k:
                    dy_readers.insert(at, k)
            loads[dy] = loads.get(dy, 0) + loads.pop(dx)
            reads[i][dy] -= 1
            loads[dy] -= 1
            stores[dx] = 0
            removed.add(i)
        if removed:
            block[:] = [stmt for k, stmt in enumerate(block) if k not in removed]
            changed = True
    return changed


def _constant_propagated(block, i, dx, readers, reads, loads):
    """`dx = c` (a number) at block[i]: its reads, all later in the block and none
    returned, read c; whether they were."""
    uses = [k for k in readers.get(dx, ()) if k > i]
    if not uses or sum(reads[k][dx] for k in uses) != loads.get(dx, 0) \
            or isinstance(block[uses[-1]], gast.Return):
        return False
    for k in uses:
        block[k] = _substitute(block[k], dx, block[i].value)
        reads[k].pop(dx)
    loads[dx] = 0
    return True


def _summed_pair(counted):
    """({name: reads}, {name: writes}) of a list of counts(stmt)."""
    return _summed(c[0] for c in counted), _summed(c[1] for c in counted)


def _summed(counted):
    total = {}
    for more in counted:
        _count(total, more, 1)
    return total


def _np_full(value):
    """`np.full(x.shape, g)` as generate.specialize writes it: (x, g), else None."""
    if isinstance(value, gast.Call) and getattr(value, "srcad_full_of", None) \
            and len(value.args) == 2 and not value.keywords:
        return value.srcad_full_of, value.args[1]
    return None


def scalar_fills(body, gradients, in_place, shape_of, expected):
    """A gradient `dv = np.full(x.shape, g)` becomes `dv = g` (a scalar) where every read
    of dv, and of gradients made from it, is in an elementwise expression whose shape is
    that of its target's variable anyway (`dlog = dv * y`): broadcasting makes the array.
    expected(name): the shape a gradient must have (that of its variable), or None."""
    facts = Facts(body)
    stores = facts.total_stores
    readers = {}        # name -> the statements reading it (an if or loop: at its head)
    for block in _blocks(body):
        for stmt in block:
            read = facts.head(stmt) if isinstance(stmt, COMPOUND) else facts.reads(stmt)
            for var in read:
                readers.setdefault(var, []).append(stmt)
    gradients = set(gradients)
    made = set()
    for block in _blocks(body):
        for stmt in block:
            dv = _assigned_name(stmt)
            full = _np_full(stmt.value) if dv is not None else None
            if full is None or dv not in gradients or dv in in_place or stores.get(dv) != 1 \
                    or shape_of(full[1], {}) != ():
                continue
            scalar = {dv: ()}
            fill = shape_of(gast.Name(id=full[0], ctx=gast.Load(), annotation=None,
                                      type_comment=None), {})
            if _scalar_reads_fit(scalar, readers, gradients, in_place, stores, shape_of,
                                 expected, fill):
                stmt.value = full[1]
                made |= set(scalar)
    return made


def _scalar_reads_fit(scalar, readers, gradients, in_place, stores, shape_of, expected,
                      fill):
    """Whether every read of the names in scalar (grown as it goes) gives a right shape:
    a worklist over the statements reading each name that joins scalar. fill: the
    shape the names' arrays would have (None where not known)."""
    todo = list(scalar)
    while todo:
        for stmt in readers.get(todo.pop(), ()):
            if isinstance(stmt, COMPOUND):
                return False        # an if's test or a loop's range
            target = _assigned_name(stmt)
            if target is None or target not in gradients:
                return False
            shape = shape_of(stmt.value, scalar)
            if shape is None:
                if target not in scalar and _covered(stmt.value, scalar, fill, shape_of):
                    continue
                return False
            if shape == expected(target) and target not in scalar:
                continue
            if shape == () and stores.get(target) == 1 and target not in in_place \
                    and target not in scalar:
                scalar[target] = ()
                todo.append(target)
                continue
            if target in scalar and shape == ():
                continue
            return False
    return True


def _covered(node, scalar, fill, shape_of):
    """Whether node reads the names in scalar only through elementwise arithmetic that
    also has an operand (not one of them) at least of shape fill: broadcasting against
    it gives the shape their arrays would."""
    if fill is None:
        return False
    covering = [False]

    def visit(n):
        if isinstance(n, gast.BinOp) and isinstance(n.op, (gast.Add, gast.Sub, gast.Mult,
                                                           gast.Div)):
            return visit(n.left) and visit(n.right)
        if isinstance(n, gast.UnaryOp) and isinstance(n.op, (gast.USub, gast.UAdd)):
            return visit(n.operand)
        if isinstance(n, gast.Name) and n.id in scalar:
            return True
        if not any(isinstance(m, gast.Name) and m.id in scalar for m in gast.walk(n)):
            shape = shape_of(n, {})
            covering[0] |= shape is not None and broadcast(shape, fill) == shape
            return True
        return False

    return visit(node) and covering[0]


# -- scalar factors and signs -------------------------------------------------------------

class _Form:
    """value = sign * (product of coefs) * core; coefs: [(op, scalar expression)] with op
    Mult or Div; core: an expression (an array, or of unknown shape), None for 1."""

    def __init__(self, sign=1, coefs=(), core=None):
        self.sign, self.coefs, self.core = sign, list(coefs), core

    def trivial(self):
        return self.sign == 1 and not self.coefs


def _binop(left, op, right):
    return gast.BinOp(left=left, op=op, right=right)


def _same(a, b):
    return len(a) == len(b) and all(type(x[0]) is type(y[0]) and gast.dump(x[1]) == gast.dump(y[1])
                                    for x, y in zip(a, b))


def _form(node, scalar, gradients=frozenset(), floating=frozenset()):
    """Split node into a _Form; scalar(node): whether node is sure to be a scalar;
    gradients: names of gradients (numbers, never booleans); floating: see _materialize."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _form(node.operand, scalar, gradients, floating)
        if inner.core is None and not inner.coefs:
            return _Form(1, [(gast.Mult(), node)])
        return _Form(-inner.sign, inner.coefs, inner.core)
    if isinstance(node, gast.BinOp) and not scalar(node):
        op = node.op
        left, right = (_form(n, scalar, gradients, floating) for n in (node.left, node.right))
        if isinstance(op, (gast.Mult, gast.MatMult)):
            if isinstance(op, gast.MatMult) and (left.core is None or right.core is None):
                return _Form(core=_binop(_materialize(left, floating), op,
                                    _materialize(right, floating)))
            core = right.core if left.core is None else left.core if right.core is None \
                else _binop(left.core, op, right.core)
            return _Form(left.sign * right.sign, left.coefs + right.coefs, core)
        if isinstance(op, gast.Div):
            if right.core is None or left.core is not None:
                inverted = [(gast.Div() if isinstance(o, gast.Mult) else gast.Mult(), c)
                            for o, c in right.coefs]
                core = left.core if right.core is None else _binop(left.core, op, right.core)
                return _Form(left.sign * right.sign, left.coefs + inverted, core)
            return _Form(core=_binop(_materialize(left, floating), op,
                                    _materialize(right, floating)))
        if isinstance(op, (gast.Add, gast.Sub)) and left.core is not None \
                and right.core is not None:
            sub = isinstance(op, gast.Sub)
            # `g * m1 + g * m2` -> `g * (m1 + m2)` only where the sum is of numbers: of
            # two boolean masks it is their `or` (and `-` fails)
            if _same(left.coefs, right.coefs) and (_numeric(left.core, gradients)
                                                   or _numeric(right.core, gradients)):
                minus = (left.sign * right.sign * (-1 if sub else 1)) < 0
                if not minus and gast.dump(left.core) == gast.dump(right.core):
                    return _Form(left.sign, left.coefs + [(gast.Mult(), const(2))],
                                 left.core)         # `a + a` -> `2 * a`
                core = _binop(left.core, gast.Sub() if minus else gast.Add(), right.core)
                return _Form(left.sign, left.coefs, core)
            a = _materialize(_Form(1, left.coefs, left.core), floating)
            b = _materialize(_Form(1, right.coefs, right.core), floating)
            minus = (left.sign * right.sign * (-1 if sub else 1)) < 0
            return _Form(left.sign, [], _binop(a, gast.Sub() if minus else gast.Add(), b))
        return _Form(core=_binop(_materialize(left, floating), op,
                                    _materialize(right, floating)))
    if scalar(node):
        return _Form(1, [(gast.Mult(), node)])
    return _Form(core=node)


def _numeric(node, gradients):
    """Whether an expression's value is surely numbers, not booleans: a gradient, a
    number, a quotient, or arithmetic with one of these."""
    if isinstance(node, gast.Constant):
        return type(node.value) in (int, float, complex)
    if isinstance(node, gast.Name):
        return node.id in gradients
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return _numeric(node.operand, gradients)
    if isinstance(node, gast.BinOp):
        return isinstance(node.op, gast.Div) or isinstance(
            node.op, (gast.Add, gast.Sub, gast.Mult, gast.Pow, gast.MatMult)) and (
            _numeric(node.left, gradients) or _numeric(node.right, gradients))
    return False


def _materialize(form, floating=frozenset()):
    """The expression for a _Form, with its scalar factors multiplied together first, its
    number factors into one; a factor 1 is left out where every name the core reads is
    in floating (arrays of floats that nothing updates in place, so that the result may
    be one of them)."""
    form = _numbers_folded(form, floating)
    mult = [c for o, c in form.coefs if isinstance(o, gast.Mult)]
    div = [c for o, c in form.coefs if isinstance(o, gast.Div)]
    negative = form.sign < 0

    def product(factors):
        out = factors[0]
        for f in factors[1:]:
            out = _binop(out, gast.Mult(), f)
        return out

    def negated(expr):
        if _number(expr):
            return const(-expr.value)
        if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
            return expr.operand
        return gast.UnaryOp(op=gast.USub(), operand=expr)

    if mult:
        first = negated(mult[0]) if negative else mult[0]
        scale = product([first] + mult[1:])
        for d in div:
            scale = _binop(scale, gast.Div(), d)
        return scale if form.core is None else _binop(scale, gast.Mult(), form.core)
    if form.core is None:
        scale = const(-1.0 if negative else 1.0)
        for d in div:
            scale = _binop(scale, gast.Div(), d)
        return scale
    if div:
        denominator = product(div)
        return _binop(form.core, gast.Div(), negated(denominator) if negative else denominator)
    return negated(form.core) if negative else form.core


def _numbers_folded(form, floating):
    numbers = [c.value for o, c in form.coefs if isinstance(o, gast.Mult) and _number(c)]
    if not numbers or len(numbers) == 1 and abs(numbers[0]) != 1:
        return form
    value = numbers[0]
    for v in numbers[1:]:
        value = value * v
    rest = [(o, c) for o, c in form.coefs if not (isinstance(o, gast.Mult) and _number(c))]
    if abs(value) == 1 and form.core is not None and all(
            n.id in floating for n in walk(form.core) if isinstance(n, gast.Name)):
        return _Form(form.sign * (1 if value > 0 else -1), rest, form.core)
    return _Form(form.sign, [(gast.Mult(), const(value))] + rest, form.core)


def fold_scalars(body, gradients, in_place, scalar, helpers=None, numeric=(), floating=()):
    """Move scalar factors and signs out of elementwise arithmetic, so that NumPy makes one
    pass per array operation: a gradient defined as `-g * a` or `s * a` and read by one later
    statement of its block is written into that statement, where the factors meet:
    `dp = -dsub2; dp = dp + dlog / p` with `dsub2 = s * sub / sub2` and `dlog = s * y`
    becomes `dp = -s * (sub / sub2 - y / p)`; `-(-a)` cancels; a factor passes through `@`,
    and out of a sum (`np.sum(-(2 * a), axis=0)` -> `-2 * np.sum(a, axis=0)`), so that it
    scales the smaller result. scalar(node): whether an expression is sure to be a scalar;
    helpers: the generated code's names of objects (which calls are sums); numeric: other
    names whose values are numbers (a common factor leaves `g * a + g * b` only where
    `a + b` adds numbers: of two boolean masks it is their `or`); floating: names of
    arrays or numbers of floats that nothing updates in place (_materialize)."""
    gradients = set(gradients)
    numbers = gradients | set(numeric)
    floating = set(floating)
    while _fold_pass(body, gradients, in_place, scalar, numbers, floating, helpers or {}):
        pass
    # what is left: each gradient's scalar factors applied once
    for block in _blocks(body):
        for stmt in block:
            dv = _assigned_name(stmt)
            if dv is not None and dv in gradients and not scalar(stmt.value) \
                    and _np_calls_only(stmt.value):
                unit = floating if dv not in in_place else ()
                stmt.value = _materialize(_form(stmt.value, scalar, numbers, unit), unit)
            elif dv is not None and dv in gradients and helpers:
                stmt.value = _FactorsOutOfSums(scalar, helpers, numbers).visit(stmt.value)
            if dv is not None and dv in gradients:
                stmt.value = _CommonFactors(numbers, helpers or {}).visit(stmt.value)
    return body


class _CommonFactors(gast.NodeTransformer):
    """`g * a + g * b` -> `g * (a + b)` for a name g, and so for `-`: one multiplication
    fewer (`dx * math.cos(x) + dx * a`, the two paths of a step of a scalar loop).
    Only where a + b adds numbers: of two boolean masks it is their `or`, and their
    difference fails."""

    def __init__(self, numbers, helpers):
        self.numbers, self.helpers = numbers, helpers

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, (gast.Add, gast.Sub)):
            return node
        left, right = _name_factors(node.left), _name_factors(node.right)
        common = next((g for g in left if g in right), None)
        if common is None or not (self.numeric(left[common]) or self.numeric(right[common])):
            return node
        return _binop(gast.Name(id=common, ctx=gast.Load(), annotation=None,
                                type_comment=None),
                      gast.Mult(), _binop(left[common], node.op, right[common]))

    def numeric(self, node):
        """Whether node's value is numbers (optimize._numeric), or a math function's."""
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                and isinstance(node.func.value, gast.Name):
            module = self.helpers.get(node.func.value.id)
            return module is math and not node.func.attr.startswith("is")
        return _numeric(node, self.numbers)


def _name_factors(node):
    """{name: the product of the other factors} of a product `a * g * b`, for each
    factor that is a name (elementwise products commute)."""
    factors = _factors(node)
    if len(factors) < 2:
        return {}
    found = {}
    for i, factor in enumerate(reversed(factors)):
        if isinstance(factor, gast.Name) and factor.id not in found:
            rest = factors[:len(factors) - 1 - i] + factors[len(factors) - i:]
            product = rest[0]
            for f in rest[1:]:
                product = _binop(product, gast.Mult(), f)
            found[factor.id] = product
    return found


def _factors(node):
    """The factors of a product, left to right: `a * b * c` -> [a, b, c]."""
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


class _FactorsOutOfSums(gast.NodeTransformer):
    """`unbroadcast(s * a, x)` -> `s * unbroadcast(a, x)`, and so for np.sum over axes:
    a sum is linear, and a scalar factor costs less on its result."""

    def __init__(self, scalar, helpers, gradients):
        self.scalar, self.helpers, self.gradients = scalar, helpers, gradients

    def sums(self, node):
        from . import runtime
        func = node.func
        if isinstance(func, gast.Name):
            return self.helpers.get(func.id) is runtime.unbroadcast and len(node.args) == 2 \
                and not node.keywords
        return isinstance(func, gast.Attribute) and func.attr == "sum" \
            and isinstance(func.value, gast.Name) and self.helpers.get(func.value.id) is np \
            and len(node.args) == 1 and all(k.arg in ("axis", "keepdims") for k in node.keywords)

    def visit_Call(self, node):
        self.generic_visit(node)
        if not self.sums(node):
            return node
        form = _form(node.args[0], self.scalar, self.gradients)
        if form.trivial() or form.core is None:
            return node
        node.args[0] = form.core
        return _materialize(_Form(form.sign, form.coefs, node))


def _fold_pass(body, gradients, in_place, scalar, numbers, floating, helpers):
    """One pass of fold_scalars over every block; whether it changed anything. The counts
    of stores and reads are kept up to date as statements fold into their readers."""
    loads, stores = _summed_pair([counts(stmt) for stmt in body])
    changed = False
    for block in _blocks(body):
        i = 0
        while i < len(block):
            stmt = block[i]
            dv = _assigned_name(stmt)
            reader = None
            if dv is not None and dv in gradients and dv not in in_place \
                    and not scalar(stmt.value) and _np_calls_only(stmt.value):
                form = _form(stmt.value, scalar, numbers)
                reader = _single_reader(block, i, dv, stores, loads)
                if reader is not None and form.trivial() and not _factored(
                        block[reader].value, dv, stmt.value, numbers, helpers):
                    reader = None
            if reader is None:
                i += 1
                continue
            stmt_loads, stmt_stores = counts(stmt)
            _count(loads, stmt_loads, -1)
            _count(stores, stmt_stores, -1)
            _count(loads, counts(block[reader])[0], -1)
            moved = _materialize(form)
            block[reader].value = _substitute(block[reader].value, dv, moved)
            if form.trivial():
                block[reader].value = _CommonFactors(numbers, helpers).visit(block[reader].value)
            unit = floating if _assigned_name(block[reader]) not in in_place else ()
            block[reader].value = _materialize(
                _form(block[reader].value, scalar, numbers, unit), unit)
            _count(loads, counts(block[reader])[0], 1)
            del block[i]
            changed = True
    return changed


def _factored(value, dv, product, numbers, helpers):
    """Whether the product dv is, written into value, meets a product with a common
    factor there (`dmul * neg - dneg` with `dneg = dmul * x`): one multiplication fewer."""
    if not _name_factors(product):
        return False
    nested = _substitute(copy(value), dv, copy(product))
    before = sum(isinstance(n, gast.Mult) for n in walk(nested))
    nested = _CommonFactors(numbers, helpers).visit(nested)
    return sum(isinstance(n, gast.Mult) for n in walk(nested)) < before


def _count(counts, more, sign):
    for var, n in more.items():
        counts[var] = counts.get(var, 0) + sign * n


def _np_calls_only(expr):
    return all(not isinstance(n, gast.Call) for n in walk(expr))


def _single_reader(block, i, dv, stores, loads):
    """The index of the one statement of block that reads the value assigned to dv at i
    (a gradient assignment that reads it once), else None. stores, loads: how many times
    each name is assigned and read in the whole function."""
    value_loads, value_stores = counts(block[i].value)
    written = value_loads.keys() | value_stores.keys()
    for k in range(i + 1, len(block)):
        stmt = block[k]
        stmt_loads, stmt_stores = counts(stmt)
        reads = stmt_loads.get(dv, 0)
        target = _assigned_name(stmt)
        if reads:
            if reads != 1 or target is None or not isinstance(stmt, gast.Assign):
                return None
            if target == dv:
                return k                    # the next value of dv: this one is dead after
            if stores.get(dv) == 1 and loads.get(dv) == 1:
                return k
            return None
        if dv in stmt_stores or written & stmt_stores.keys():
            return None
        if written & stmt_loads.keys() and target is None and not is_marker(stmt):
            return None     # a call or a write that may update what the value reads
    return None


class ScattersInPlace:
    """`dx = add_at(dx, x, index, g)`, the gradient of a part of an array x whose values
    are real numbers (dtypes.real_function), with a basic index: where dx is still the
    zero 0.0, `dx = np.zeros(x.shape)` and `dx[index] = g`; where it is an array made
    so, `dx[index] += g`. That is what add_at does for real arrays, less its tests at
    run time. A forward dataflow of the gradients that are the zero, or such arrays.

    add_at: the helper's name; zeros(x): the node of `np.zeros(x.shape)`; basic(node):
    whether an index node is an int, a slice, None, ... or a tuple of them."""

    def __init__(self, add_at, arrays, zeros, basic):
        self.add_at, self.arrays, self.zeros, self.basic = add_at, arrays, zeros, basic

    def block(self, body, state, rewrite=True):
        out = []
        for stmt in body:
            made, state = self.statement(stmt, state, rewrite)
            out += made
        if rewrite:
            body[:] = out
        return state

    def statement(self, stmt, state, rewrite):
        zero, arrays = state
        if isinstance(stmt, gast.If):
            after = [self.block(b, state, rewrite) for b in (stmt.body, stmt.orelse)]
            return [stmt], (after[0][0] & after[1][0], after[0][1] & after[1][1])
        if isinstance(stmt, (gast.For, gast.While)):
            entry = loop_head(state, lambda s: self.block(stmt.body, s, rewrite=False),
                              lambda a, b: (a[0] & b[0], a[1] & b[1]))
            self.block(stmt.body, entry, rewrite)
            return [stmt], entry
        target = _assigned_name(stmt)
        scatter = self.scatter(stmt, target)
        if scatter is not None and (target in zero or target in arrays):
            x, index, g = scatter
            part = gast.Subscript(value=name(target), slice=_written(index), ctx=gast.Store())
            made = [gast.Assign(targets=[name(target, store=True)], value=self.zeros(x)),
                    gast.Assign(targets=[part], value=g)] if target in zero \
                else [gast.AugAssign(target=part, op=gast.Add(), value=g)]
            for s in made:
                gast.copy_location(s, stmt)
            return (made if rewrite else [stmt]), (zero - {target}, arrays | {target})
        stored = {n.id for n in walk(stmt) if isinstance(n, gast.Name)
                  and isinstance(n.ctx, gast.Store)}
        zero, arrays = zero - stored, arrays - stored
        if target is not None and _is_zero(stmt.value):
            zero = zero | {target}
        return [stmt], (zero, arrays)

    def scatter(self, stmt, target):
        """(x, index, g) of `dx = add_at(dx, x, index, g)` as the rewrite takes it."""
        value = stmt.value if target is not None else None
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Name)
                and value.func.id == self.add_at and len(value.args) == 4
                and not value.keywords):
            return None
        total, x, index, g = value.args
        if isinstance(total, gast.Name) and total.id == target and isinstance(x, gast.Name) \
                and x.id in self.arrays and self.basic(index):
            return x.id, index, g
        return None


def _written(index):
    """An index as written in a subscript: `slice(1, None)` -> `1:`."""
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[_written(e) for e in index.elts], ctx=gast.Load())
    if isinstance(index, gast.Call):
        bounds = [None if isinstance(a, gast.Constant) and a.value is None else a
                  for a in index.args]
        lower, upper, step = [None] + bounds + [None] if len(bounds) == 1 \
            else bounds + [None] * (3 - len(bounds))
        return gast.Slice(lower=lower, upper=upper, step=step)
    return index


def views_of_parts(body, part, seed):
    """`dv = part_of(seed, index)` -> `dv = seed[index]`, a view, where seed, a called
    function's seed, is an array (a caller never passes the zero 0.0) that nothing but
    part_of reads (so nothing writes into it) and dv, assigned once, is read only as an
    operand of arithmetic or as a value written into an array: nothing writes through
    the view, so part_of's copy is for nothing."""
    loads, stores = counts(gast.Module(body=body, type_ignores=[]))
    parts = [n for s in body for n in walk(s) if isinstance(n, gast.Call)
             and isinstance(n.func, gast.Name) and n.func.id == part and n.args
             and isinstance(n.args[0], gast.Name) and n.args[0].id == seed]
    if stores.get(seed) or loads.get(seed, 0) != len(parts):
        return
    operands = _operand_reads(body)
    for stmt in (n for s in body for n in walk(s) if isinstance(n, gast.Assign)):
        target, value = _assigned_name(stmt), stmt.value
        if target is not None and isinstance(value, gast.Call) \
                and isinstance(value.func, gast.Name) and value.func.id == part \
                and len(value.args) == 2 and isinstance(value.args[0], gast.Name) \
                and value.args[0].id == seed and stores.get(target) == 1 \
                and operands.get(target, 0) == loads.get(target, 0):
            stmt.value = gast.Subscript(value=value.args[0], slice=_written(value.args[1]),
                                        ctx=gast.Load())


def _operand_reads(body):
    """{name: how many of its reads are operands of arithmetic or values written into an
    array (`x[i] = v`, `x[i] += v`)}."""
    found = {}
    for node in (n for s in body for n in walk(s)):
        if isinstance(node, gast.BinOp):
            operands = [node.left, node.right]
        elif isinstance(node, gast.UnaryOp):
            operands = [node.operand]
        elif isinstance(node, (gast.Assign, gast.AugAssign)) and isinstance(
                node.targets[0] if isinstance(node, gast.Assign) else node.target,
                gast.Subscript):
            operands = [node.value]
        else:
            continue
        for operand in operands:
            if isinstance(operand, gast.Name):
                found[operand.id] = found.get(operand.id, 0) + 1
    return found
