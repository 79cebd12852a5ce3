"""Single-use temporaries of the primal nested back into the expression that reads them.

Normalization gives every operation its own statement (`mul = x * a`,
`sin = math.sin(x)`, `add = mul + sin`, `x = add - 1.0`), so that each can be
differentiated and recorded. In the primal, a temporary that nothing records
and only the next statement reads costs a store and a load for nothing; put
back, the line reads as the user wrote it: `x = x * a + math.sin(x) - 1.0`.

A temporary t = E is nested into the statement S that reads it where:
- t is assigned once and read once in the whole function (so neither the
  stack nor a later statement reads it), and not a parameter;
- E is a pure operation: a NumPy, math, operator or builtin function that
  neither writes into its arguments nor draws random numbers, a copy, or an
  expression without calls (a comparison, a constant);
- S is the next statement of the same block, apart from pushes onto the
  stack (which assign nothing), and t is read in what S evaluates first and
  once: an assignment's value, an `if`'s test, a `for` loop's iterable, a
  return value. E then runs with the same values, before anything S does.
"""
from copy import copy as shallow

import gast

from .optimize import pure
from .syntax import copy, names_in, walk



def renest(definition, stack):
    """A copy of a primal FunctionDef with its single-use temporaries nested (the
    statements it changes are copies: lean_primal's primal shares the others)."""
    params = {a.id for a in definition.args.posonlyargs + definition.args.args
              + definition.args.kwonlyargs}
    loads, stores = {}, {}
    for n in walk(definition):
        if isinstance(n, gast.Name):
            counts = loads if isinstance(n.ctx, gast.Load) else stores
            counts[n.id] = counts.get(n.id, 0) + 1
    single = {v for v, k in loads.items() if k == 1 and stores.get(v) == 1} - params
    definition = shallow(definition)
    definition.body = _block(definition.body, single, stack)
    return definition


def _block(body, single, stack):
    out = []
    for stmt in body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt = shallow(stmt)
            stmt.body = _block(stmt.body, single, stack)
            stmt.orelse = _block(stmt.orelse, single, stack)
        while True:     # take in the temporaries just before it, nearest first
            k = len(out) - 1
            while k >= 0 and _is_push(out[k], stack):
                k -= 1
            var = _temporary(out[k], single) if k >= 0 else None
            nested = _substitute(stmt, var, out[k].value) if var is not None else None
            if nested is None:
                break
            stmt = nested
            del out[k]
        out.append(stmt)
    return out


def _temporary(stmt, single):
    """The name a pure single-use assignment binds, else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id in single):
        return None
    return stmt.targets[0].id if pure(getattr(stmt, "op", None)) else None


def _is_push(stmt, stack):
    """`stack.append(...)` of names and constants: it changes no value a temporary reads."""
    return isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call) \
        and isinstance(stmt.value.func, gast.Attribute) and stmt.value.func.attr == "append" \
        and isinstance(stmt.value.func.value, gast.Name) and stmt.value.func.value.id == stack \
        and all(isinstance(n, (gast.Name, gast.Constant, gast.Tuple, gast.Load))
                for arg in stmt.value.args for n in walk(arg))


def _substitute(stmt, var, value):
    """A copy of stmt with value in place of the read of var in what it evaluates first;
    None where that is not its only read there."""
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
        field = "value"
    elif isinstance(stmt, gast.If):
        field = "test"
    elif isinstance(stmt, gast.For):
        field = "iter"
    elif isinstance(stmt, gast.Return) and stmt.value is not None:
        field = "value"
    else:
        return None
    head = getattr(stmt, field)
    if var not in names_in(head, gast.Load):
        return None
    nested = shallow(stmt)
    if isinstance(head, gast.Name):
        setattr(nested, field, value)
        return nested
    head = copy(head)
    setattr(nested, field, head)
    for node in walk(head):
        for name_, child in gast.iter_fields(node):
            if isinstance(child, gast.Name) and child.id == var:
                setattr(node, name_, value)
                return nested
            if isinstance(child, list):
                for k, item in enumerate(child):
                    if isinstance(item, gast.Name) and item.id == var:
                        child[k] = value
                        return nested
    return None
