"""Arrays on a GPU (CuPy): refused by name, with no wrong number and no silent copy to
the host, until srcad supports other array libraries. Skipped without CuPy and a GPU
(CI has neither); `python tests/test_gpu.py` runs the same checks without pytest."""
import numpy as np

import srcad

try:
    import cupy as cp
    GPU = cp.cuda.runtime.getDeviceCount() > 0
except Exception:       # noqa: BLE001 - no CuPy, or no driver or device
    cp, GPU = None, False


def sum_of_tanh(x):
    return np.sum(np.tanh(x))


def weighted(w, x):
    return np.sum(w * x)


def refusals():
    """(what, the call, the text its refusal must hold) for each check."""
    x = cp.linspace(-1.0, 1.0, 5)
    w = np.ones(5)
    return [
        ("grad of a CuPy argument", lambda: srcad.grad(sum_of_tanh)(x), "argument 'x'"),
        ("jvp of a CuPy argument", lambda: srcad.jvp(sum_of_tanh)(x, np.ones(5)),
         "argument 'x'"),
        ("jvp with a CuPy tangent", lambda: srcad.jvp(sum_of_tanh)(np.ones(5), x),
         "'the tangent of x'"),
        ("vjp of a CuPy argument", lambda: srcad.vjp(sum_of_tanh)(x), "argument 'x'"),
        ("a CuPy argument not differentiated", lambda: srcad.grad(weighted)(w, x),
         "argument 'x'"),
        ("a CuPy array in a list", lambda: srcad.grad(sum_of_tanh)([x]), "'x[0]'"),
    ]


def run(what, call, text):
    try:
        got = call()
    except srcad.SrcadError as e:
        assert text in str(e) and "cupy" in str(e).lower() and e.filename == __file__, \
            f"{what}: {e}"
        return str(e).splitlines()[0]
    raise AssertionError(f"{what}: not refused, returned {got!r}")


if GPU:
    import pytest

    @pytest.mark.parametrize("index", range(6))
    def test_a_cupy_array_is_refused_by_name(index):
        run(*refusals()[index])
else:
    def test_a_cupy_array_is_refused_by_name():
        import pytest
        pytest.skip("needs CuPy and a GPU")


if __name__ == "__main__":
    assert GPU, "needs CuPy and a GPU"
    print("device:", cp.cuda.runtime.getDeviceProperties(0)["name"].decode())
    for what, call, text in refusals():
        print(f"{what}: refused: {run(what, call, text)}")
    print("all refused")
