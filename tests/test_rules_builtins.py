"""Python's builtins on differentiated values: over lists, tuples and arrays, with keys,
defaults and start values; `a | b` merging dicts."""
import builtins
import operator

import numpy as np
import pytest
from hypothesis import strategies as st

from rule_cases import (ANY, NONZERO, POSITIVE, arrays, case, cases_of, distinct, floats,
                        hvp_cases_of, run, run_hvp)
from srcad import runtime
from srcad.rules import builtins as rules
from srcad.rules.operators import union_grad

DISTINCT4 = st.tuples(distinct((4,)))
DISTINCT_PAIR = st.tuples(distinct((4,)), distinct((4,)))


def b_sorted(x):
    return sorted([x[0], 2.0 * x[1], -x[2], x[3] * x[3]])


def b_sorted_used(x):
    s = sorted([x[0], 2.0 * x[1], -x[2]])
    return 3.0 * s[0] + s[2]


def b_sorted_reverse_array(x):
    s = sorted(x, reverse=True)
    r = sorted(x * x)
    return s[0] * 2.0 + s[1] * s[3] + r[0]


def b_sorted_key(x):
    items = [x[0], x[1] - 0.01, x[2] * 3.0, x[3]]
    return sorted(items, key=abs), sorted(items, key=abs, reverse=True)


def b_sorted_rows(x, y):
    rows = [x, y, x * y]
    return sorted(rows, key=np.sum)


case(builtins.sorted, b_sorted, DISTINCT4)
case(builtins.sorted, b_sorted_used, DISTINCT4)
case(builtins.sorted, b_sorted_reverse_array, st.tuples(distinct((4,)).filter(
    lambda x: len(set(np.round(x * x, 6))) == 4)))
case(builtins.sorted, b_sorted_key, DISTINCT4.filter(
    lambda t: len(set(np.round(np.abs([t[0][0], t[0][1] - 0.01, 3.0 * t[0][2], t[0][3]]),
                               2))) == 4))
case(builtins.sorted, b_sorted_rows, DISTINCT_PAIR.filter(
    lambda p: len({round(float(np.sum(r)), 2) for r in (p[0], p[1], p[0] * p[1])}) == 3),
     wrt=(0, 1))


def b_max_min_list(x):
    items = [x[0], x[1] * 2.0, -x[2], x[3]]
    return max(items) * min(items) + max(x) - min(x * 3.0)


def b_max_min_args(x, y):
    return max(x, y) * 2.0 + min(x, y) ** 2 + max(x, 2.0 * y, -x) + min(x, y, x * y, 1.5)


def b_max_min_key(x):
    items = [x[0], x[1] * 2.0, -x[2], x[3]]
    return max(items, key=abs) * min(items, key=abs) + max(x[0], x[1], key=abs)


def b_max_min_default(x, y):
    empty = []
    full = [y, y * 2.0]
    return max(empty, default=x) + min(empty, default=x * x) + max(full, default=x)


def b_max_rows(x, y):
    return max([x, y * 2.0], key=np.sum) * min([x, y], key=np.prod)


def _abs_apart(values):
    return len({round(abs(float(v)), 2) for v in values}) == len(values)


case([builtins.max, builtins.min], b_max_min_list, DISTINCT4.filter(
    lambda t: len(set(np.round([t[0][0], 2.0 * t[0][1], -t[0][2], t[0][3]], 2))) == 4))
case([builtins.max, builtins.min], b_max_min_args,
     st.tuples(NONZERO, NONZERO).filter(
         lambda p: len({round(v, 2) for v in (p[0], p[1], 2 * p[1], -p[0], p[0] * p[1],
                                               1.5)}) == 6), wrt=(0, 1))
case([builtins.max, builtins.min], b_max_min_key, DISTINCT4.filter(
    lambda t: _abs_apart([t[0][0], 2.0 * t[0][1], -t[0][2], t[0][3]])))
case([builtins.max, builtins.min], b_max_min_default, st.tuples(ANY, POSITIVE), wrt=(0, 1))
case([builtins.max, builtins.min], b_max_rows, DISTINCT_PAIR.filter(
    lambda p: abs(np.sum(p[0]) - 2 * np.sum(p[1])) > 1e-2
    and abs(np.prod(p[0]) - np.prod(p[1])) > 1e-2), wrt=(0, 1))


def b_sum(x, y):
    return sum([x, y * 2.0, x * y]) + sum([x, y], 1.0) + sum([x], start=y)


def b_sum_broadcast(x, y):
    return sum([x, y, x[0]], np.ones((2, 3)))


def b_sum_rows(x):
    return sum(x) * 2.0 + sum(x[0])


case(builtins.sum, b_sum, st.tuples(arrays((3,)), arrays((3,))), wrt=(0, 1))
case(builtins.sum, b_sum_broadcast, st.tuples(arrays((3,)), arrays((2, 3))), wrt=(0, 1))
case(builtins.sum, b_sum_rows, st.tuples(arrays((3, 2))))


def b_reversed(x):
    r = list(reversed([x[0], x[1] * 2.0, x[2]]))
    total = 0.0
    for v in reversed(x):
        total = total * 0.5 + v
    return r[0] * 3.0 + r[2] + total


def b_zip(x, y):
    pairs = list(zip([x[0], x[1], x[2]], y))
    triples = list(zip(x, y, [x[0], y[1]]))
    return pairs[0][0] * pairs[1][1] + pairs[2][1] + triples[1][2] * triples[0][0]


def b_enumerate(x):
    items = list(enumerate([x[0], x[1] * x[2]], 1))
    rows = list(enumerate(x))
    return items[1][1] * items[0][0] + items[0][1] + rows[2][1]


def b_nested_iterators(x):
    pairs = list(enumerate(zip(reversed([x[0], x[1]]), [x[2], x[0]])))
    return pairs[0][1][0] * pairs[1][1][1] + pairs[1][1][0]


case(builtins.reversed, b_reversed, st.tuples(arrays((3,))))
case(builtins.zip, b_zip, st.tuples(arrays((3,)), arrays((3,))), wrt=(0, 1))
case(builtins.enumerate, b_enumerate, st.tuples(arrays((3,))))
case([builtins.enumerate, builtins.zip, builtins.reversed], b_nested_iterators,
     st.tuples(arrays((3,))))


def b_containers(x, y):
    pair = tuple([x, y])
    items = list(pair)
    return items[0] * pair[1]


def b_list_of_array(x):
    rows = list(x)
    again = rows
    return rows[0] * 2.0 + again[1] + tuple(x[0])[1]


def b_abs_float_pow(x, y):
    return abs(x) * float(y) + pow(x, 2.0) + pow(y, x) + abs(x * y)


case([builtins.tuple, builtins.list], b_containers, st.tuples(ANY, ANY), wrt=(0, 1))
case([builtins.list, builtins.tuple], b_list_of_array, st.tuples(arrays((2, 3))))
case([builtins.abs, builtins.float, builtins.pow], b_abs_float_pow,
     st.tuples(NONZERO, POSITIVE), wrt=(0, 1))


def b_complex_abs(xr, xi):
    return abs(xr + 1j * xi) + abs(complex(1.0, 2.0) * xr)


def b_complex(x, y):
    z = complex(x, y) * complex(0.5, x)
    return abs(z * z) + z.real * complex(y).imag + complex(x).real


case(builtins.complex, b_complex, st.tuples(NONZERO, NONZERO), wrt=(0, 1))
case(builtins.abs, b_complex_abs, st.tuples(arrays((3,), NONZERO), arrays((3,), NONZERO)),
     wrt=(0, 1))


def o_dict_union(x, y):
    a = {"u": x, "v": y}
    b = {"v": 2.0 * y, "w": x * y}
    merged = a | b
    return merged["u"] * merged["v"] + merged["w"]


case(operator.or_, o_dict_union, st.tuples(arrays((2,)), arrays((2,))), wrt=(0, 1))


def b_dict_views(x, y):
    p = {"a": x, "b": y * 2.0}
    total = 0.0
    for key, value in p.items():
        total = total + np.sum(value ** 2) * len(key)
    return total + sum(np.sum(np.sin(v)) for v in p.values()) + len(list(p.keys()))


case([runtime.dict_items, runtime.dict_values, runtime.dict_keys], b_dict_views,
     st.tuples(arrays((3,)), arrays((2,))), wrt=(0, 1))


# -- Hessian-vector products through the helpers ----------------------------------------

def h_sorted_max(x):
    s = sorted([x[0], x[1] * 2.0, x[2] * x[2]])
    return s[0] * s[1] * s[2] + max(x) ** 3 + max(list(x * x)) * x[0]


def h_sequences(x):
    r = list(reversed([x[0] * x[1], x[2]]))
    pairs = list(enumerate(zip([x[0], x[1]], [x[2] * x[2], x[0]])))
    return sum([x[0] * x[1], x[2]]) ** 2 + r[0] * r[1] + pairs[1][1][0] * pairs[0][1][0] ** 2


def h_union(x):
    merged = {"a": x[0], "b": x[1]} | {"b": x[2] * x[1]}
    return merged["a"] ** 2 * merged["b"]


case([rules.sorted_grad, rules.chosen_grad, rules.items_grad], h_sorted_max, DISTINCT4.map(
    lambda t: (t[0][:3],)).filter(lambda t: len(set(np.round(
        [t[0][0], 2 * t[0][1], t[0][2] ** 2], 2))) == 3), hvp=True)
case([rules.sum_grad, rules.reversed_grad, rules.enumerate_grad, rules.zip_grad],
     h_sequences, st.tuples(arrays((3,))), hvp=True)
case(union_grad, h_union, st.tuples(arrays((3,))), hvp=True)


def h_dict_views(x):
    p = {"a": x[0] * x[1], "b": x[2]}
    return sum(v ** 3 for v in p.values()) + sum(k_v[1] * x[0] for k_v in p.items())


case([rules.dict_values_grad, rules.dict_items_grad], h_dict_views, st.tuples(arrays((3,))),
     hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)
