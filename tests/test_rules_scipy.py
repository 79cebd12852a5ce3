"""scipy.special and scipy.stats.norm: elementwise functions, reductions, the normal
distribution in x, loc and scale.

Without SciPy the cases are not registered and the tests are skipped. autograd's
own check in the shared runner rebinds only `np`, so here a test of its own runs
autograd with `special` and `norm` rebound to autograd.scipy's.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import srcad
from oracle import with_globals
from rule_cases import (ANY, POSITIVE, UNIT, arrays, broadcasting, case, cases_of, floats,
                        one, run, shapes)

try:
    import scipy
    from scipy import special
    from scipy.stats import norm
except ImportError:      # pragma: no cover - SciPy is optional
    special = norm = None

pytestmark = pytest.mark.skipif(special is None, reason="SciPy is not installed")
AUTOGRAD = []       # cases autograd.scipy has rules for


def _case(primitives, f, args, autograd=False, **options):
    c = case(primitives, f, args, **options)
    if autograd:
        AUTOGRAD.append(c)
    return c


@st.composite
def with_axis(draw, elements=ANY, tuples=True):
    """(x, axis, keepdims): axis None, an int, a negative int or a tuple of ints."""
    x = draw(arrays(shapes(1, 3), elements))
    choices = list(range(-x.ndim, x.ndim)) + [None]
    if tuples and x.ndim > 1:
        choices.append(tuple(sorted(draw(st.sets(st.integers(0, x.ndim - 1), min_size=1)))))
    return x, draw(st.sampled_from(choices)), draw(st.booleans())


if special is not None:
    # -- one array ---------------------------------------------------------------------
    def s_expit(x): return special.expit(x) * x
    def s_logit(x): return special.logit(x)
    def s_erf(x): return special.erf(x)
    def s_erfc(x): return special.erfc(x)
    def s_erfinv(x): return special.erfinv(x)
    def s_gammaln(x): return special.gammaln(x)
    def s_digamma(x): return special.digamma(x)
    def s_psi(x): return special.psi(x)
    def s_gamma(x): return special.gamma(x)
    def s_entr(x): return special.entr(x)

    _case(special.expit, s_expit, one(floats(-4.0, 4.0)), autograd=True)
    _case(special.logit, s_logit, one(floats(0.05, 0.95)), autograd=True)
    _case(special.erf, s_erf, one(ANY), autograd=True)
    _case(special.erfc, s_erfc, one(ANY), autograd=True)
    _case(special.erfinv, s_erfinv, one(UNIT), autograd=True)
    # gammaln and digamma on both sides of 0 (log|gamma|), away from the poles
    _case(special.gammaln, s_gammaln, one(floats(0.1, 5.0)), autograd=True)
    _case(special.digamma, s_digamma, one(floats(0.2, 5.0)), autograd=True)
    _case(special.psi, s_psi, one(floats(-0.8, -0.2)), autograd=True)
    _case(special.gamma, s_gamma, one(floats(0.2, 4.0)), autograd=True)
    _case(special.entr, s_entr, one(floats(0.05, 3.0)))

    def s_gammaln_negative(x):
        return special.gammaln(x - 1.0) * x

    _case(special.gammaln, s_gammaln_negative, one(floats(0.1, 0.9)), autograd=True)

    def s_polygamma(x):
        return special.polygamma(1, x) + special.polygamma(0, x * 2.0) \
            + special.polygamma(np.array([2, 3])[:, None], x[None])

    _case(special.polygamma, s_polygamma, st.tuples(arrays(shapes(1, 1), POSITIVE)))

    def s_polygamma_orders(x):
        return special.polygamma(1, x) * special.polygamma(3, x)

    _case(special.polygamma, s_polygamma_orders, one(POSITIVE), autograd=True)

    def s_polygamma_scalar(x):
        return special.polygamma(2, x) * x

    _case(special.polygamma, s_polygamma_scalar, st.tuples(floats(0.3, 3.0)))

    # -- two arrays, with broadcasting -------------------------------------------------
    def s_beta(a, b): return special.beta(a, b)
    def s_betaln(a, b): return special.betaln(a, b)
    def s_xlogy(x, y): return special.xlogy(x, y)
    def s_xlog1py(x, y): return special.xlog1py(x, y)

    PAIR_POSITIVE = broadcasting(floats(0.3, 3.0), floats(0.3, 3.0))
    _case(special.beta, s_beta, PAIR_POSITIVE, wrt=(0, 1), autograd=True)
    _case(special.betaln, s_betaln, PAIR_POSITIVE, wrt=(0, 1), autograd=True)
    _case(special.xlogy, s_xlogy, broadcasting(ANY, floats(0.2, 3.0)), wrt=(0, 1))
    _case(special.xlog1py, s_xlog1py, broadcasting(ANY, floats(-0.8, 3.0)), wrt=(0, 1))

    def s_x_zero(y):
        """Where x is 0, x log(y) is 0 for every y: no gradient reaches y."""
        x = np.array([0.0, 1.5])
        return special.xlogy(x, y) + special.xlog1py(x, y)

    _case([special.xlogy, special.xlog1py], s_x_zero, st.tuples(arrays((2,), POSITIVE)))

    # -- reductions --------------------------------------------------------------------
    def s_logsumexp(x, axis, keepdims):
        return special.logsumexp(x, axis=axis, keepdims=keepdims)

    def s_logsumexp_positional(x, axis, keepdims):
        return special.logsumexp(x * 3.0, axis, None, keepdims) * 2.0

    def s_softmax(x, axis, keepdims):
        return special.softmax(x, axis=axis) * np.cos(x)

    def s_log_softmax(x, axis, keepdims):
        return special.log_softmax(x, axis) * np.cos(x)

    _case(special.logsumexp, s_logsumexp, with_axis(floats(-3.0, 3.0)), autograd=True)
    _case(special.logsumexp, s_logsumexp_positional, with_axis())
    _case(special.softmax, s_softmax, with_axis(tuples=True))
    _case(special.log_softmax, s_log_softmax, with_axis(tuples=True))

    def s_logsumexp_scalar(x):
        return special.logsumexp(x) + special.logsumexp(x * x)

    _case(special.logsumexp, s_logsumexp_scalar, one(ANY, min_dims=1), autograd=True)

    # -- the normal distribution -------------------------------------------------------
    @st.composite
    def normal_args(draw):
        """(x, loc, scale) of mutually broadcastable shapes, scale > 0."""
        shapes3 = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=2, max_side=3))
        x, loc, scale = shapes3.input_shapes
        return (draw(arrays(x, ANY)), draw(arrays(loc, floats(-1.0, 1.0))),
                draw(arrays(scale, floats(0.5, 2.0))))

    def n_logpdf(x, loc, scale): return norm.logpdf(x, loc, scale)
    def n_pdf(x, loc, scale): return norm.pdf(x, loc=loc, scale=scale)
    def n_cdf(x, loc, scale): return norm.cdf(x, loc, scale=scale)
    def n_logcdf(x, loc, scale): return norm.logcdf(x, loc, scale)

    # autograd's rules take loc and scale by position only
    for f, primitive in ((n_logpdf, norm.logpdf), (n_pdf, norm.pdf), (n_cdf, norm.cdf),
                         (n_logcdf, norm.logcdf)):
        _case(primitive, f, normal_args(), wrt=(0, 1, 2), autograd=f in (n_logpdf, n_logcdf))

    def n_positional(x, loc, scale):
        return norm.pdf(x, loc, scale) * norm.cdf(x, loc, scale)

    _case([norm.pdf, norm.cdf], n_positional, normal_args(), wrt=(0, 1, 2), autograd=True)

    def n_standard(x):
        """Default loc and scale, the module spelled out, the lower tail of logcdf."""
        return scipy.stats.norm.logpdf(x) + scipy.stats.norm.pdf(x) \
            + scipy.stats.norm.cdf(x) + scipy.stats.norm.logcdf(x * 4.0 - 8.0)

    def n_loc_only(loc):
        return norm.logpdf(1.5, loc) + norm.cdf(0.5, loc=loc, scale=2.0)

    _case([norm.logpdf, norm.pdf, norm.cdf, norm.logcdf], n_standard, one(ANY), autograd=True)
    _case([norm.logpdf, norm.cdf], n_loc_only, one(ANY))

    def s_python_floats(x):
        """Python floats in: the ufuncs' results are scalars."""
        return special.expit(x) * special.erf(x) + special.gammaln(x + 2.0) \
            + special.beta(x + 1.5, 3.0) + norm.logpdf(x, 0.5, 2.0) + special.logsumexp(x)

    _case([special.expit, special.erf, special.gammaln, special.beta, norm.logpdf,
           special.logsumexp], s_python_floats, st.tuples(floats(-1.0, 2.0)), autograd=True)

    # -- Hessians through the rules (their expressions run in forward mode) ------------
    def h_special(x):
        return np.sum(special.gammaln(x + 1.0) * special.expit(x) + special.erf(x) ** 2) \
            + special.logsumexp(x * x) + np.sum(special.softmax(x) * x) \
            + np.sum(norm.logcdf(x, 0.5, 1.5) * special.xlogy(x, x + 2.0))

    HESSIAN = h_special


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", AUTOGRAD, ids=repr)
def test_against_autograd(c):
    """srcad's vjp against autograd's, with autograd.scipy's special functions."""
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.special as aspecial
    import autograd.scipy.stats.norm as anorm

    fa = with_globals(c.f, np=anp, special=aspecial, norm=anorm,
                      scipy=type("scipy", (), {"stats": type("stats", (), {"norm": anorm})}))
    wrt = c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)

    @settings(max_examples=5)
    @given(args=c.args)
    def check(args):
        value, pullback = srcad.vjp(c.f, wrt=c.wrt)(*args)
        u = np.cos(np.arange(np.size(value)) + 1.0).reshape(np.shape(value))
        got = pullback(u)
        got = got if isinstance(c.wrt, tuple) else (got,)
        for p, g in zip(wrt, got):
            expected = autograd.make_vjp(fa, argnum=p)(*args)[0](u)
            np.testing.assert_allclose(g, expected, rtol=1e-8, atol=1e-10)

    check()


def test_hessian_through_the_rules():
    """Forward mode over the generated reverse code runs each rule's own derivatives."""
    f = HESSIAN
    rng = np.random.default_rng(0)
    x, v = rng.uniform(0.2, 1.5, 5), rng.uniform(-1.0, 1.0, 5)
    got = srcad.hvp(f)(x, v)
    h = 1e-5
    grad = srcad.grad(f)
    expected = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_unsupported_arguments_are_refused():
    def weighted(x):
        return special.logsumexp(x, b=np.array([1.0, 2.0]))

    def signed(x):
        return special.logsumexp(x, return_sign=True)[0]

    for f in (weighted, signed):
        with pytest.raises(srcad.SrcadError, match="logsumexp"):
            srcad.grad(f)(np.array([0.5, 1.5]))


def test_frozen_distribution_is_refused():
    def frozen(x):
        return np.sum(norm(0.0, 2.0).logpdf(x))

    with pytest.raises(srcad.SrcadError):
        srcad.grad(frozen)(np.array([0.5, 1.5]))


def beta_at(a):
    return scipy.special.beta(a, 2.0) + scipy.special.betaln(2.0, a + 3.0)


def test_beta_at_a_pole_of_digamma_is_refused_not_nan():
    # B(a, 2) is finite at a = -2 (0.5), but digamma(-2) and digamma(0) are not
    with pytest.raises(srcad.SrcadError, match="pole of digamma"):
        srcad.grad(beta_at)(-2.0)
    with pytest.raises(srcad.SrcadError, match="pole of digamma"):
        srcad.jvp(beta_at)(-2.0, 1.0)
