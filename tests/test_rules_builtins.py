"""Python's builtins on differentiated values."""
import builtins

import pytest
from hypothesis import strategies as st

from rule_cases import arrays, case, cases_of, run


def b_list_of_array(x):
    rows = list(x)
    again = rows
    return rows[0] * 2.0 + again[1] + tuple(x[0])[1]


case([builtins.list, builtins.tuple], b_list_of_array, st.tuples(arrays((2, 3))))


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)
