"""Arguments of a generated program, in every input kind, and their float64 copies.

``draw`` makes float64 values (integers where a parameter's kind is an int
kind); ``given`` puts them in the program's input kinds (float32 and int
arrays, lists, tuples, ``np.matrix``, masked arrays, Python ints, NumPy
scalars); ``float64`` is what the oracles differentiate: the same values and
containers in float64, an ndarray subclass kept as itself.
"""
import numpy as np

SCALARS = {"float": float, "int": int, "np.float64": np.float64, "np.float32": np.float32,
           "np.int64": np.int64, "np.int32": np.int32}


def draw(program, rng):
    """The arguments x, y, W, s, d, k, flag as float64 values."""
    n, m = program.n, program.m
    x = rng.uniform(-1.0, 1.0, n)
    y = rng.uniform(-1.0, 1.0, n)
    W = rng.uniform(-1.0, 1.0, (m, n))
    s = float(rng.uniform(-1.0, 1.0))
    d = rng.uniform(0.2, 1.0, n) * rng.choice([-1.0, 1.0], n)
    if program.inputs["x"] == "int":
        x = rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], n)
    if "int" in program.inputs["s"]:
        s = float(rng.choice([-2, -1, 1, 2, 3]))
    return [x, y, W, s, d, program.k, bool(rng.integers(2))]


def given(program, values, rng):
    """The arguments in the program's input kinds."""
    args = list(values)
    for position, param in enumerate(("x", "y", "W")):
        args[position] = _array(program.inputs[param], values[position], rng)
    args[3] = SCALARS[program.inputs["s"]](values[3])
    return args


def _array(kind, a, rng):
    if kind == "f64":
        return a
    if kind == "f32":
        return a.astype(np.float32)
    if kind == "int":
        return a.astype(np.int64)
    if kind == "list":
        return [float(v) for v in a]
    if kind == "tuple":
        return tuple(float(v) for v in a)
    if kind == "matrix":
        return np.asmatrix(a)
    if kind == "masked":
        mask = np.zeros(a.shape, dtype=bool)
        mask.flat[rng.integers(a.size)] = True
        return np.ma.array(a, mask=mask)
    raise ValueError(kind)


def float64(args):
    """The arguments as the oracles take them: x, y, W and s with the same values in
    float64 (the data arguments d, k and flag as they are)."""
    return [_float64(a) for a in args[:4]] + list(args[4:])


def _float64(a):
    if isinstance(a, (bool, np.bool_)):
        return a
    if isinstance(a, np.ndarray):
        return a.astype(np.float64) if a.dtype.kind in "iuf" else a
    if isinstance(a, (list, tuple)):
        return type(a)(_float64(v) for v in a)
    if isinstance(a, (int, float, np.integer, np.floating)):
        return float(a)
    return a


def low_precision(program):
    """Whether srcad computes in float32 for this program's inputs."""
    return "f32" in program.inputs.values() or program.inputs["s"] == "np.float32"


def default_kinds(program):
    return all(kind == kinds_default for kind, kinds_default in
               zip(program.inputs.values(), ("f64", "f64", "f64", "float")))
