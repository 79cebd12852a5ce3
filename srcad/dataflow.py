"""Dataflow over structured statement lists (if, for, while): the names each statement
reads and writes, found by one walk per pass, and the solvers the passes share.

A problem walks the statements in order (forward) or in reverse (backward), its state a
set of names. At an `if` both arms start from the same state and their results are
combined; at a loop the body is walked until the state at its head holds (`loop_head`):
a state that only shrinks (must facts, met by intersection) or only grows (may facts,
joined by union) holds after at most as many walks as it has names, in practice two.
With the reads and writes found once (`Facts`), each walk costs one step per statement.
"""
import gast

COMPOUND = (gast.If, gast.For, gast.While)


def blocks_of(stmt):
    """The statement lists inside an if, for or while."""
    return (stmt.body, stmt.orelse)


def head_of(stmt):
    """The expression an if or loop evaluates at its head (a for's iterable)."""
    return stmt.iter if isinstance(stmt, gast.For) else stmt.test


def assigned_name(stmt):
    """x of `x = ...`, else None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


def counts(node, loads=None, stores=None):
    """({name: reads}, {name: writes}) of node, from one walk (added to the dicts given)
    that skips what holds no name (contexts, operators, strings)."""
    loads = {} if loads is None else loads
    stores = {} if stores is None else stores
    todo = [node]
    pop, push, extend, tree = todo.pop, todo.append, todo.extend, gast.AST
    while todo:
        n = pop()
        if isinstance(n, gast.Name):
            found = loads if isinstance(n.ctx, gast.Load) else stores
            found[n.id] = found.get(n.id, 0) + 1
            continue
        for field in _FIELDS.get(n.__class__) or _fields(n.__class__):
            value = getattr(n, field, None)
            if type(value) is list:
                extend([v for v in value if isinstance(v, tree)])
            elif isinstance(value, tree):
                push(value)
    return loads, stores


_FIELDS = {}    # node class -> the fields that may hold names


def _fields(cls):
    found = _FIELDS[cls] = tuple(f for f in cls._fields
                                 if f not in ("ctx", "op", "ops", "type_comment", "kind"))
    return found


class Facts:
    """The reads and writes of every statement of a body, at every depth (an if's or
    loop's including everything inside it), and of their heads, from one walk of each
    node. Valid until a statement changes: built once per pass. A statement made since
    (a `pass`) is counted when asked about; those counted are kept alive, so that no
    new one takes the id of one counted."""

    def __init__(self, body):
        self.loads, self.stores, self.heads = {}, {}, {}
        self.total_loads, self.total_stores = {}, {}
        self.counted = []
        for stmt in body:
            self.add(stmt)
            _add(self.total_loads, self.loads[id(stmt)])
            _add(self.total_stores, self.stores[id(stmt)])

    def add(self, stmt):
        self.counted.append(stmt)
        if not isinstance(stmt, COMPOUND):
            self.loads[id(stmt)], self.stores[id(stmt)] = counts(stmt)
            return
        loads, stores = {}, {}
        for field in stmt._fields:
            value = getattr(stmt, field, None)
            if field not in ("body", "orelse") and isinstance(value, gast.AST):
                counts(value, loads, stores)
        self.heads[id(stmt)] = set(counts(head_of(stmt))[0])
        for block in blocks_of(stmt):
            for inner in block:
                self.add(inner)
                _add(loads, self.loads[id(inner)])
                _add(stores, self.stores[id(inner)])
        self.loads[id(stmt)], self.stores[id(stmt)] = loads, stores

    def reads(self, stmt):
        if id(stmt) not in self.loads:
            self.add(stmt)
        return self.loads[id(stmt)].keys()

    def writes(self, stmt):
        if id(stmt) not in self.stores:
            self.add(stmt)
        return self.stores[id(stmt)].keys()

    def head(self, stmt):
        if id(stmt) not in self.heads:
            self.add(stmt)
        return self.heads[id(stmt)]


def _add(total, more):
    for var, n in more.items():
        total[var] = total.get(var, 0) + n


def loop_head(state, through, combine):
    """The state at a loop's head: state combined with what one run of the body makes of
    it (through(state)), until that changes nothing."""
    while True:
        combined = combine(state, through(state))
        if combined == state:
            return state
        state = combined


def live_before(body, live_after, facts):
    """The names body may read before writing them, given those live after it (a plain
    `x = ...` writes x; any other write may leave part of the old value)."""
    live = set(live_after)
    for stmt in reversed(body):
        live = live_through(stmt, live, facts)
    return live


def live_through(stmt, live, facts):
    """The names live before stmt, given those live after it."""
    if isinstance(stmt, gast.If):
        return live_before(stmt.body, live, facts) | live_before(stmt.orelse, live, facts) \
            | facts.head(stmt)
    if isinstance(stmt, (gast.For, gast.While)):
        return live | live_before(stmt.body, live_in_loop(stmt, live, facts), facts) \
            | facts.head(stmt)
    target = assigned_name(stmt)
    live = live - {target} if target is not None else set(live)
    live.update(facts.reads(stmt))
    return live


def live_in_loop(loop, live_after, facts):
    """The names live at the end of a loop's body: after the loop, or in the next run."""
    return loop_head(set(live_after),
                     lambda live: live_after | live_before(loop.body, live, facts),
                     set.union)


def reachable(start, edges):
    """start and every name reachable from it along edges ({name: names}): a
    flow-insensitive problem solved in one visit of each edge."""
    found, todo = set(start), list(start)
    while todo:
        for other in edges.get(todo.pop(), ()):
            if other not in found:
                found.add(other)
                todo.append(other)
    return found
