"""Consecutive updates of a gradient merged, and the copies they left dropped (adjoint).

The adjoint of `x = x * a + math.sin(x)` keeps the incoming gradient in a
copy while it updates dx term by term:

    dmul = dx                           da = da + dx * x
    dx = dx * math.cos(x)       ->      dx = dx * math.cos(x) + dx * a
    dx = dx + dmul * a
    da = da + dmul * x

Two rewrites, each leaving every operation and its operands as they were
(the same values, rounded the same way):

- `v = E1` then `v = v + E2`, where E2 does not read v, is `v = E1 + E2`.
- A copy `c = v` whose readers all run before v is next assigned (or read c
  in the statement that assigns v, which evaluates them first) reads v
  instead. A reader that runs later is moved up first, where it has no calls
  and commutes with every statement it passes (neither writes what the other
  reads or writes, and those statements call only pure math and NumPy
  functions). The copy is then unread and removed.

Only blocks of plain assignments to names are rewritten: a pop, an in-place
update or any other statement ends the stretch a rewrite may span.
"""
import math

import gast
import numpy as np

from .syntax import copy, names_in, replace_names


def merge_updates(body, helpers):
    """The adjoint body with updates merged and copies propagated (statements copied
    where changed)."""
    loads = {}
    for n in _walk(body):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1
    return _block(body, loads, helpers)


def _walk(body):
    for stmt in body:
        yield from gast.walk(stmt)


def _block(body, loads, helpers):
    out = []
    for stmt in body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt.body = _block(stmt.body, loads, helpers)
            stmt.orelse = _block(stmt.orelse, loads, helpers)
        out.append(stmt)
    out = _merged(out, helpers)
    i = 0
    while i < len(out):
        end = _propagate(out, i, loads, helpers)
        if end:
            del out[i]
            _merge_around(out, max(i - 1, 0), end - 1, helpers)
        else:
            i += 1
    return out


def _plain(stmt):
    """The name a plain `name = expression` assigns, else None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


def _merged(body, helpers):
    out = []
    for stmt in body:
        v = _plain(stmt)
        k = _first_term(out, v, stmt, helpers) if v is not None else None
        if k is not None:
            previous = out.pop(k)
            merged = gast.BinOp(left=previous.value, op=gast.Add(), right=stmt.value.right)
            stmt = gast.Assign(targets=previous.targets, value=merged, type_comment=None)
        out.append(stmt)
    return out


REACH = 32      # how far back an update looks for its first term (keeps the pass linear)


def _first_term(out, v, stmt, helpers):
    """For an update `v = v + E2` (E2 not reading v), the index in out of the
    assignment `v = E1` it may merge with: the last statement, or an earlier one whose
    E1 calls nothing and may run later, past statements that neither read v nor write
    what E1 reads (and call only pure functions); else None."""
    value = stmt.value
    if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add)
            and isinstance(value.left, gast.Name) and value.left.id == v
            and v not in names_in(value.right)):
        return None
    for k in range(len(out) - 1, max(len(out) - REACH, 0) - 1, -1):
        other = out[k]
        if _comment(other):
            continue
        if _plain(other) == v:
            if getattr(other, "srcad_tag", None) is not None:
                return None
            if k < len(out) - 1 and not _may_run_later(other, out[k + 1:], helpers):
                return None
            return k
        if _plain(other) is None or v in names_in(other.value):
            return None
    return None


def _comment(stmt):
    return isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant) \
        and isinstance(stmt.value.value, str)


def _may_run_later(stmt, passed, helpers):
    """Whether stmt (calling nothing) may run after the statements passed instead of
    before them: none writes what it reads, and they call only pure functions."""
    if any(isinstance(n, gast.Call) for n in gast.walk(stmt.value)):
        return False
    reads = names_in(stmt.value)
    return all(_comment(other) or _pure_calls(other.value, helpers)
               and _plain(other) not in reads for other in passed)


def _merge_around(body, lo, hi, helpers):
    """_merged over body[lo:hi], the statements a rewrite changed, and a few of their
    neighbours on each side: the merges the rewrite may have made possible."""
    lo, hi = max(lo - REACH // 4, 0), min(hi + REACH // 4, len(body))
    body[lo:hi] = _merged(body[lo:hi], helpers)


def _propagate(body, i, loads, helpers):
    """Make the readers of the copy body[i] read its source instead; the index after
    the last statement changed, where done (the copy is then unread: the caller
    removes it), else 0."""
    c = _plain(body[i])
    if c is None or not isinstance(body[i].value, gast.Name):
        return 0
    v = body[i].value.id
    if v == c:
        return 0
    readers, seen, k = [], 0, None
    for j in range(i + 1, len(body)):
        if _plain(body[j]) is None:
            return 0
        reads = c in names_in(body[j].value)
        if reads:
            readers.append(j)
            seen += sum(1 for n in gast.walk(body[j].value)
                        if isinstance(n, gast.Name) and n.id == c)
        if _plain(body[j]) == c:
            return 0
        if k is None and _plain(body[j]) == v:
            k = j
        if seen == loads.get(c, 0):
            break
    if seen != loads.get(c, 0):
        return 0        # a reader beyond this stretch of plain assignments
    late = [j for j in readers if k is not None and j > k]
    for j in late:          # move each late reader up to just before body[k]
        if not _movable(body, k, j, helpers):
            return 0
    for offset, j in enumerate(late):
        body.insert(k + offset, body.pop(j))
    left = loads.get(c, 0)
    j = i + 1
    while left:     # the readers, all before v is assigned again (or in that statement)
        if c in names_in(body[j].value):
            left -= sum(1 for n in gast.walk(body[j].value)
                        if isinstance(n, gast.Name) and n.id == c)
            body[j] = gast.Assign(targets=body[j].targets,
                                  value=replace_names(copy(body[j].value), {c: v}),
                                  type_comment=None)
        j += 1
    loads[v] = loads.get(v, 0) + loads.pop(c, 0)
    return min(max([j] + [m + 2 for m in late]), len(body))  # (past where a move left a gap)


def _movable(body, k, j, helpers):
    """Whether body[j] may run before body[k:j]: it calls nothing, and it commutes with
    each of them (which call only pure functions)."""
    stmt = body[j]
    if any(isinstance(n, gast.Call) for n in gast.walk(stmt.value)):
        return False
    writes, reads = {_plain(stmt)}, names_in(stmt.value)
    for other in body[k:j]:
        if not _pure_calls(other.value, helpers):
            return False
        other_writes, other_reads = {_plain(other)}, names_in(other.value)
        if writes & (other_reads | other_writes) or reads & other_writes:
            return False
    return True


def _pure_calls(expr, helpers):
    """Whether every call in expr is of a math function or a NumPy ufunc (without
    keywords: no `out=` to write into)."""
    for n in gast.walk(expr):
        if isinstance(n, gast.Call):
            f = n.func
            if n.keywords or not (isinstance(f, gast.Attribute)
                                  and isinstance(f.value, gast.Name)):
                return False
            module = helpers.get(f.value.id)
            function = getattr(module, f.attr, None)
            if not (module is math and callable(function)
                    or module is np and isinstance(function, np.ufunc)):
                return False
    return True
