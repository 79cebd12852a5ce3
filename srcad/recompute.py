"""Branch tests recomputed in the adjoint instead of recorded (reverse mode).

A normalized `if` tests a name assigned just before it (`cond = x > 0`, then
`if cond:`). In a loop `cond` is overwritten every iteration, so the primal
pushes its old value and the adjoint pops it back: a push and a pop per
iteration, on top of the ones that save x where a branch assigns it.

Where each branch's last push saves x before assigning it (or, in a branch
that leaves x alone, can push it at its end), the adjoint pops x once, before
it branches, rather than inside each branch. x then holds its value at the
test, and the adjoint tests `x > 0` itself: `cond` is no longer read and
`ReverseFunction.prune` drops its recording.

Only comparisons of numbers are recomputed (cheap, without side effects,
the same result from the same values), and only from names whose values at
the adjoint's test are proven to be those at the primal's: the one popped
there, and parameters that nothing assigns; and only in functions that
write into no array and call no function of their own, so that no number
held as a 0-d array changes in place between the test and the push.
"""
import gast

from .generate import is_marker
from .optimize import pure
from .syntax import copy, name, names_in, walk

COMPARISONS = (gast.Lt, gast.LtE, gast.Gt, gast.GtE, gast.Eq, gast.NotEq)
READERS = (range, len, int, float, bool)   # builtins of no derivative that write nothing


def recomputed_test(generator, node, branches):
    """(pops, test) for the adjoint of the `if` node: the pop statements to run before
    the adjoint's `if` and the expression it tests; None where the test's value is not
    proven recomputable there. branches: [(primal block, adjoint block)] of the body and
    the orelse, which this updates in place when it returns a result."""
    definition = generator.preceding.get(id(node))
    test = node.test
    if not (isinstance(test, gast.Name) and isinstance(definition, gast.Assign)
            and len(definition.targets) == 1 and isinstance(definition.targets[0], gast.Name)
            and definition.targets[0].id == test.id
            and generator.analysis.overwritten(test.id, generator.loop_depth > 0, definition)
            and _comparison(definition.value, generator.kinds)):
        return None
    if getattr(generator, "changes_nothing_in_place", None) is None:
        generator.changes_nothing_in_place = _changes_nothing_in_place(generator)
    if not generator.changes_nothing_in_place:
        return None     # a number may be a 0-d array that a write or a callee changes
    varying = [n for n in sorted(names_in(definition.value)) if not _fixed(generator, n)]
    if len(varying) != 1:
        return None
    var = varying[0]
    plans = [_plan(generator, var, primal, adjoint) for primal, adjoint in branches]
    if None in plans or all(restore is None for _, restore in plans):
        return None     # (where no branch assigns var, cond's recording is as cheap)
    for (primal, adjoint), (_, restore) in zip(branches, plans):
        if restore is None:
            primal.append(generator.push_stmt(name(var), ("save", var)))
        else:
            adjoint.remove(restore)
            pop = restore
    return [pop], copy(definition.value)


def _changes_nothing_in_place(generator):
    """Whether every statement of the function is a branch, a loop, or an assignment to
    a name of a pure operation (renest.pure: no user function, no write, no method)."""
    ops = {id(s.node): s.op for s in generator.analysis.statements}
    for node in walk(generator.tree):
        if isinstance(node, gast.Expr) and not is_marker(node):
            return False
        if isinstance(node, gast.Assign) and not (
                isinstance(node.targets[0], gast.Name) and id(node) in ops
                and _reads_only(ops[id(node)])):
            return False
    return True


def _reads_only(op):
    """Whether an operation changes nothing it is given."""
    return op.kind in ("subscript", "literal") or pure(op) \
        or op.kind == "zero" and any(getattr(op, "primitive", None) is f for f in READERS)


def _comparison(expr, kinds):
    """Whether expr compares numbers only: names of scalar kind and number constants."""
    if isinstance(expr, gast.BoolOp):
        return all(_comparison(v, kinds) for v in expr.values)
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.Not):
        return _comparison(expr.operand, kinds)
    if isinstance(expr, gast.Compare):
        return all(isinstance(op, COMPARISONS) for op in expr.ops) \
            and all(_number(e, kinds) for e in [expr.left] + expr.comparators)
    return False


def _number(expr, kinds):
    if isinstance(expr, gast.Constant):
        return type(expr.value) in (int, float, bool)
    return isinstance(expr, gast.Name) and kinds.get(expr.id) == "scalar"


def _fixed(generator, var):
    """A parameter that no statement assigns or writes into: the same value throughout."""
    return var in generator.analysis.fixed_params()


def _plan(generator, var, primal, adjoint):
    """(push, pop) of var's save in one branch when the push is the branch's last and var
    is assigned nowhere before it, and nothing the adjoint runs before the pop reads or
    writes var: the pop may then move before the adjoint's `if`. (None, None) for a branch
    that assigns var nowhere (it pushes var at its end); None where neither holds."""
    stack = generator.stack
    tag = ("save", var)
    push = next((s for s in primal if getattr(s, "srcad_tag", None) == tag), None)
    if push is None:
        if any(var in names_in(s, gast.Store) for s in primal):
            return None
        return None, None
    at = primal.index(push)
    if any(var in names_in(s, gast.Store) for s in primal[:at]) \
            or any(stack in names_in(s) for s in primal[at + 1:]):
        return None
    pop = next((s for s in adjoint if getattr(s, "srcad_tag", None) == tag), None)
    if pop is None:
        return None
    if any(names_in(s) & {var, stack} for s in adjoint[:adjoint.index(pop)]):
        return None
    return push, pop
