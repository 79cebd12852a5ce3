"""Python's builtins on differentiated values; `a | b` merging dicts."""
import builtins
import operator

import pytest
from hypothesis import strategies as st

from rule_cases import arrays, case, cases_of, hvp_cases_of, run, run_hvp
from srcad.rules.operators import union_grad


def b_list_of_array(x):
    rows = list(x)
    again = rows
    return rows[0] * 2.0 + again[1] + tuple(x[0])[1]


case([builtins.list, builtins.tuple], b_list_of_array, st.tuples(arrays((2, 3))))


def o_dict_union(x, y):
    a = {"u": x, "v": y}
    b = {"v": 2.0 * y, "w": x * y}
    merged = a | b
    return merged["u"] * merged["v"] + merged["w"]


case(operator.or_, o_dict_union, st.tuples(arrays((2,)), arrays((2,))), wrt=(0, 1))


# -- Hessian-vector products through the helpers ----------------------------------------

def h_union(x):
    merged = {"a": x[0], "b": x[1]} | {"b": x[2] * x[1]}
    return merged["a"] ** 2 * merged["b"]


case(union_grad, h_union, st.tuples(arrays((3,))), hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)
