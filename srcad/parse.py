"""Stage 1: a Python function's source to a gast tree, with its namespace.

Line numbers in the tree are the user's own (first line of the file is 1), so
every later stage can point at the user's code.
"""
import builtins
import inspect
import linecache
import textwrap

import gast

from .errors import NoDerivativeError, SrcadError, UnsupportedSyntaxError
from .nested import LIFTED
from .syntax import copy
from .wrappers import check_wrapper_parameters, spell_out_forwarding


class Function:
    """A parsed user function: its tree, where it came from, what it can see."""

    def __init__(self, fn, node, filename, namespace):
        self.fn = fn
        self.node = node            # gast.FunctionDef, decorators stripped
        self.filename = filename
        self.namespace = namespace  # globals, closure cells and builtins by name
        self.name = node.name

    @property
    def generated(self):
        """Whether this is code srcad generated (and registered: emit.py)."""
        from .emit import is_generated
        return is_generated(self.filename)

    def source_line(self, lineno):
        return linecache.getline(self.filename, lineno).rstrip() if lineno else ""

    def error(self, cls, node, message):
        """An error of class cls (a SrcadError) located at node's line of the user's file."""
        return cls(message, *self.location(node))

    def location(self, node):
        """(filename, lineno, source line) of a node, for error messages."""
        lineno = getattr(node, "lineno", None) or self.node.lineno
        return self.filename, lineno, self.source_line(lineno)


def parse_function(fn):
    """The tree of fn's own code: a decorated function's wrapper, not what it wraps."""
    if not inspect.isfunction(fn):
        raise SrcadError(f"srcad differentiates Python functions; got {fn!r}")
    if fn in LIFTED:    # a helper lifted out of a function being differentiated
        node, filename = LIFTED[fn]
        return Function(fn, copy(node), filename, _namespace(fn))
    node, filename = _own_source(fn)
    function = Function(fn, node, filename, _namespace(fn))
    if isinstance(node, gast.AsyncFunctionDef):
        raise function.error(UnsupportedSyntaxError, node, "cannot differentiate 'async def': "
                             "differentiate a synchronous function")
    node.decorator_list = []
    _strip_annotations(node)
    if node.args.vararg or node.args.kwarg:
        spell_out_forwarding(function)
    elif hasattr(fn, "__wrapped__"):
        check_wrapper_parameters(function)
    return function


def _own_source(fn):
    """The tree of the def that made fn's code (not of what fn wraps), and its file.

    The file is read now: where its text at the def's line is no longer that def (the
    file changed since it ran), srcad would differentiate other code, so it refuses.
    """
    code = fn.__code__
    label = getattr(code, "co_qualname", code.co_name)
    if code.co_name == "<lambda>":
        raise SrcadError(f"cannot differentiate a lambda ({fn!r}): write it as a def")
    try:
        lines, first = inspect.getsourcelines(code)
        filename = inspect.getsourcefile(code) or code.co_filename
    except (OSError, TypeError) as e:
        raise NoDerivativeError(f"no derivative rule for '{label}', and its source cannot be "
                                f"read ({e}): define it with def in a file, or register a "
                                "rule with @srcad.adjoint") from None
    try:
        node = gast.parse(textwrap.dedent("".join(lines))).body[0]
    except SyntaxError:
        node = None
    if not isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)) \
            or node.name != code.co_name or not _same_parameters(node.args, code):
        raise SrcadError(f"the source of {label} at this line is not the def that made it: "
                         "the file has changed since; run the def again (reload its module)",
                         filename, first, linecache.getline(filename, first).rstrip())
    gast.increment_lineno(node, first - 1)
    return node, filename


def _same_parameters(args, code):
    """Whether a def's parameters are those of a code object, by name and in order."""
    names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.id for a in (args.vararg, args.kwarg) if a is not None]
    count = code.co_argcount + code.co_kwonlyargcount \
        + bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return len(names) == count and all(
        a == b or a.startswith("__") for a, b in zip(names, code.co_varnames))  # __a: mangled


def _strip_annotations(tree):
    """Annotations and type parameters out of the defs in tree: they compute nothing, and
    generated code could not evaluate them (`def h[T](v: T)`, `def h(v: local_type)`)."""
    for n in gast.walk(tree):
        if isinstance(n, gast.FunctionDef):
            n.returns, n.type_params = None, []
        elif isinstance(n, gast.arguments):
            for a in n.posonlyargs + n.args + n.kwonlyargs + [n.vararg, n.kwarg]:
                if a is not None:
                    a.annotation = None


MISSING = object()     # what a name is bound to where nothing binds it


class Namespace(dict):
    """The names a function sees, by name: builtins, its globals, its closure cells.

    It remembers each name srcad looked up (`get`, `[]`) and what it found then,
    so that the code generated from what it found can be checked against the
    names as they are at a later call (see `dependencies`).
    """

    def __init__(self, fn):
        super().__init__(vars(builtins))
        self.update(fn.__globals__)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                self[name] = cell.cell_contents
            except ValueError:  # an empty cell (defined later in the enclosing scope)
                self.pop(name, None)    # hides a global or builtin of that name, as in Python
        self.fn = fn
        self.read = {}      # name -> what it was bound to when first looked up
        self.watched = []   # further (holder, key, object) bindings, such as a method's

    def get(self, key, default=None):
        value = dict.get(self, key, MISSING)
        self.read.setdefault(key, value)
        return default if value is MISSING else value

    def __getitem__(self, key):
        value = self.get(key, MISSING)
        if value is MISSING:
            raise KeyError(key)
        return value

    def dependencies(self):
        """(holder, key, object) for each name looked up: the name's binding, in the
        function's globals (a dict, by key) or its closure cell (key None), was object."""
        cells = dict(zip(self.fn.__code__.co_freevars, self.fn.__closure__ or ()))
        found = []
        for key, value in self.read.items():
            if key in cells:
                found.append((cells[key], None, value))
            else:   # a builtin stays one while no global of that name appears
                found.append((self.fn.__globals__, key,
                              self.fn.__globals__.get(key, MISSING)))
        return found + self.watched


def _namespace(fn):
    return Namespace(fn)
