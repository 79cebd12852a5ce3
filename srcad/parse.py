"""Stage 1: a Python function's source to a gast tree, with its namespace.

Line numbers in the tree are the user's own (first line of the file is 1), so
every later stage can point at the user's code.
"""
import builtins
import inspect
import linecache
import textwrap

import gast

from .errors import SrcadError
from .nested import LIFTED
from .syntax import copy


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
        """Whether this is code srcad generated (emit.py names its files "<srcad ...>")."""
        return self.filename.startswith("<srcad ")

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
    fn = inspect.unwrap(fn)
    if fn in LIFTED:    # a helper lifted out of a function being differentiated
        node, filename = LIFTED[fn]
        return Function(fn, copy(node), filename, _namespace(fn))
    if not inspect.isfunction(fn):
        raise SrcadError(f"srcad differentiates Python functions; got {fn!r}")
    if fn.__name__ == "<lambda>":
        raise SrcadError(f"cannot differentiate a lambda ({fn!r}): write it as a def")
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as e:
        raise SrcadError(f"cannot read the source of {fn.__qualname__}: {e}") from None
    source = textwrap.dedent("".join(lines))
    module = gast.parse(source)
    node = module.body[0]
    if not isinstance(node, gast.FunctionDef):
        raise SrcadError(f"cannot differentiate {fn.__qualname__}: its source is not a def")
    gast.increment_lineno(module, first - 1)
    node.decorator_list = []
    return Function(fn, node, filename, _namespace(fn))


def _namespace(fn):
    names = dict(vars(builtins))
    outer = getattr(fn.__globals__, "user_globals", None)   # srcad's own generated code
    if outer is not None:
        names.update(outer)
        for name, cell in fn.__globals__.cells.items():
            try:
                names[name] = cell.cell_contents
            except ValueError:
                pass
    names.update(fn.__globals__)
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                names[name] = cell.cell_contents
            except ValueError:  # an empty cell: defined later in the enclosing scope
                pass
    return names
