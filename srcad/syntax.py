"""Small builders and queries for gast trees, shared by every stage."""
import copy as copy_module
import keyword
from collections import deque

import gast


def name(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(),
                     annotation=None, type_comment=None)


def const(value):
    return gast.Constant(value=value, kind=None)


def assign(target, value):
    if isinstance(target, str):
        target = name(target, store=True)
    return gast.Assign(targets=[target], value=value, type_comment=None)


def call(func, *args, **keywords):
    if isinstance(func, str):
        func = parse_expr(func)
    return gast.Call(func=func, args=list(args),
                     keywords=[gast.keyword(arg=k, value=v) for k, v in keywords.items()])


def parse_expr(code):
    return gast.parse(code).body[0].value


def replace_names(node, subs):
    """Replace Name nodes whose id is in `subs` (values: str or expression node)."""
    return _Replace(subs).visit(node)


class _Replace(gast.NodeTransformer):
    def __init__(self, subs):
        self.subs = subs

    def visit_Name(self, n):
        if n.id not in self.subs:
            return n
        new = self.subs[n.id]
        if isinstance(new, str):
            return gast.Name(id=new, ctx=n.ctx, annotation=None, type_comment=None)
        return copy(new)


def copy(node):
    """A deep copy of a tree: what copy.deepcopy makes (attributes such as `op` included,
    nodes they share with the tree shared with the copy's), made field by field."""
    return _copied(node, {})


_ATOMS = (str, int, float, bool, type(None))


def _copied(value, memo):
    if isinstance(value, gast.AST):
        made = memo.get(id(value))
        if made is None:
            made = memo[id(value)] = value.__class__.__new__(value.__class__)
            fields = made.__dict__
            for key, item in value.__dict__.items():
                fields[key] = item if isinstance(item, _ATOMS) else _copied(item, memo)
        return made
    if type(value) is list:
        made = memo.get(id(value))
        if made is None:
            made = memo[id(value)] = []
            made.extend(item if isinstance(item, _ATOMS) else _copied(item, memo)
                        for item in value)
        return made
    return copy_module.deepcopy(value, memo)


def walk(node):
    """gast.walk, in the same order, without its generators per node."""
    todo = deque([node])
    pop, push, extend, tree = todo.popleft, todo.append, todo.extend, gast.AST
    while todo:
        node = pop()
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                extend([v for v in value if isinstance(v, tree)])
            elif isinstance(value, tree):
                push(value)


def names_in(node, ctx=None):
    """Ids of the Name nodes in a tree (optionally only Load or Store ones)."""
    found = set()
    for n in walk(node):
        if isinstance(n, gast.Name) and (ctx is None or isinstance(n.ctx, ctx)):
            found.add(n.id)
    return found


def located(stmts, lineno):
    for stmt in stmts:
        for n in walk(stmt):
            if hasattr(n, "lineno") or isinstance(n, gast.stmt):
                n.lineno = lineno
    return stmts


class Namer:
    """Fresh, readable names that clash with nothing the function mentions."""

    def __init__(self, taken=(), reserved=()):
        self.taken = set(taken)
        self.reserved = reserved    # names a temporary must not shadow (globals, builtins)
        self.tried = {}             # base -> the last number tried for it

    def fresh(self, base):
        base = base.strip("_") or "tmp"
        if not base[0].isalpha():
            base = "v" + base
        if base in self.reserved or keyword.iskeyword(base):
            base += "_"
        candidate, n = base, self.tried.get(base, 1)
        if n > 1:
            candidate = f"{base}{n}"
        while candidate in self.taken or candidate in self.reserved:
            n += 1
            candidate = f"{base}{n}"
        self.tried[base] = n
        self.taken.add(candidate)
        return candidate
