"""Rules for `scipy.special` and `scipy.stats.norm`, registered when SciPy is importable.

srcad does not require SciPy: without it this module registers nothing. The
special functions are ufuncs (elementwise, one line each) except `logsumexp`,
`softmax`, `log_softmax` (reductions along `axis`) and `polygamma`, whose order
`n` is an integer and gets no gradient. `scipy.stats.norm.logpdf` and the other
methods of the `norm` distribution are bound methods of one object; the rules
are keyed on them, and are differentiable in `x`, `loc` and `scale`.
"""
import numpy as np

from ..errors import SrcadError

from ..runtime import repeat_to_shape, unbroadcast
from .templates import ADJOINTS, adjoint, d, only, rule_table, tangent

try:
    from scipy import special, stats
except ImportError:      # pragma: no cover - SciPy is optional
    special = stats = None

if special is not None:
    # -- elementwise functions of one array -------------------------------------------
    rule_table(ADJOINTS, {
        special.expit: "d[x] = d[result] * result * (1.0 - result)",
        special.logit: "d[x] = d[result] / (x * (1.0 - x))",
        special.erf: "d[x] = d[result] * 1.1283791670955126 * np.exp(-x * x)",
        special.erfc: "d[x] = -d[result] * 1.1283791670955126 * np.exp(-x * x)",
        special.erfinv: "d[x] = d[result] * 0.886226925452758 * np.exp(result * result)",
        special.gammaln: "d[x] = d[result] * special.digamma(x)",
        special.digamma: "d[x] = d[result] * special.polygamma(1, x)",
        special.gamma: "d[x] = d[result] * result * special.digamma(x)",
        special.entr: "d[x] = -d[result] * (np.log(x) + 1.0)",
    }, {"np": np, "special": special}, elementwise=True)

    @adjoint(special.polygamma)
    def polygamma(result, n, x):
        d[x] = unbroadcast(d[result] * special.polygamma(n + 1, x), x)

    @tangent(special.polygamma)
    def polygamma_tangent(result, n, x):
        d[result] = d[x] * special.polygamma(n + 1, x)

    # -- elementwise functions of two arrays, with broadcasting ---------------------------

    def digamma_difference(a, total):
        """digamma(a) - digamma(total), the derivative of log B(a, b) in a (total = a + b),
        refused where the two are infinite: at a pole of digamma (0, -1, -2, ...) B may be
        finite (B(-2, 2) = 0.5) while the difference of the two infinities is no number."""
        difference = special.digamma(a) - special.digamma(total)
        if np.all(np.isfinite(difference)):
            return difference
        raise SrcadError("cannot differentiate scipy.special.beta or betaln where an "
                         "argument or their sum is 0 or a negative integer (a pole of "
                         "digamma, through which srcad's rule goes)")

    @adjoint(special.beta)
    def beta(result, a, b):
        d[a] = unbroadcast(d[result] * result * digamma_difference(a, a + b), a)
        d[b] = unbroadcast(d[result] * result * digamma_difference(b, a + b), b)

    @tangent(special.beta)
    def beta_tangent(result, a, b):
        d[result] = d[a] * result * digamma_difference(a, a + b) \
            + d[b] * result * digamma_difference(b, a + b)

    @adjoint(special.betaln)
    def betaln(result, a, b):
        d[a] = unbroadcast(d[result] * digamma_difference(a, a + b), a)
        d[b] = unbroadcast(d[result] * digamma_difference(b, a + b), b)

    @tangent(special.betaln)
    def betaln_tangent(result, a, b):
        d[result] = d[a] * digamma_difference(a, a + b) \
            + d[b] * digamma_difference(b, a + b)

    # x log(y) is 0 where x is 0, whatever y: no gradient reaches y there.
    @adjoint(special.xlogy)
    def xlogy(result, x, y):
        d[x] = unbroadcast(d[result] * np.log(y), x)
        d[y] = unbroadcast(d[result] * x / np.where(x == 0, 1.0, y), y)

    @tangent(special.xlogy)
    def xlogy_tangent(result, x, y):
        d[result] = d[x] * np.log(y) + d[y] * x / np.where(x == 0, 1.0, y)

    @adjoint(special.xlog1py)
    def xlog1py(result, x, y):
        d[x] = unbroadcast(d[result] * np.log1p(y), x)
        d[y] = unbroadcast(d[result] * x / np.where(x == 0, 1.0, 1.0 + y), y)

    @tangent(special.xlog1py)
    def xlog1py_tangent(result, x, y):
        d[result] = d[x] * np.log1p(y) + d[y] * x / np.where(x == 0, 1.0, 1.0 + y)

    # -- reductions along an axis ----------------------------------------------------------

    @adjoint(special.logsumexp)
    def logsumexp(result, a, axis=None, b=only(None), keepdims=False, return_sign=only(False)):
        d[a] = repeat_to_shape(d[result], a, axis, keepdims) \
            * np.exp(a - repeat_to_shape(result, a, axis, keepdims))

    @tangent(special.logsumexp)
    def logsumexp_tangent(result, a, axis=None, b=only(None), keepdims=False,
                          return_sign=only(False)):
        d[result] = np.sum(d[a] * np.exp(a - repeat_to_shape(result, a, axis, keepdims)),
                           axis=axis, keepdims=keepdims)

    # The Jacobian of softmax, diag(s) - s s^T along the axis, is symmetric.
    @adjoint(special.softmax)
    def softmax(result, x, axis=None):
        d[x] = result * (d[result] - np.sum(d[result] * result, axis=axis, keepdims=True))

    @tangent(special.softmax)
    def softmax_tangent(result, x, axis=None):
        d[result] = result * (d[x] - np.sum(d[x] * result, axis=axis, keepdims=True))

    @adjoint(special.log_softmax)
    def log_softmax(result, x, axis=None):
        d[x] = d[result] - np.exp(result) * np.sum(d[result], axis=axis, keepdims=True)

    @tangent(special.log_softmax)
    def log_softmax_tangent(result, x, axis=None):
        d[result] = d[x] - np.sum(d[x] * np.exp(result), axis=axis, keepdims=True)

    # -- the normal distribution: z = (x - loc) / scale -----------------------------------
    # d/dx = -d/dloc, and d/dscale = z * d/dloc - (1 / scale for the log-density).

    @adjoint(stats.norm.logpdf)
    def norm_logpdf(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[x] = unbroadcast(-d[result] * z / scale, x)
        d[loc] = unbroadcast(d[result] * z / scale, loc)
        d[scale] = unbroadcast(d[result] * (z * z - 1.0) / scale, scale)

    @tangent(stats.norm.logpdf)
    def norm_logpdf_tangent(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[result] = -d[x] * z / scale + d[loc] * z / scale + d[scale] * (z * z - 1.0) / scale

    @adjoint(stats.norm.pdf)
    def norm_pdf(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[x] = unbroadcast(-d[result] * result * z / scale, x)
        d[loc] = unbroadcast(d[result] * result * z / scale, loc)
        d[scale] = unbroadcast(d[result] * result * (z * z - 1.0) / scale, scale)

    @tangent(stats.norm.pdf)
    def norm_pdf_tangent(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[result] = -d[x] * result * z / scale + d[loc] * result * z / scale \
            + d[scale] * result * (z * z - 1.0) / scale

    # 0.3989422804014327 = 1 / sqrt(2 pi); 0.9189385332046727 = log(sqrt(2 pi))
    @adjoint(stats.norm.cdf)
    def norm_cdf(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[x] = unbroadcast(d[result] * 0.3989422804014327 * np.exp(-0.5 * z * z) / scale, x)
        d[loc] = unbroadcast(-d[result] * 0.3989422804014327 * np.exp(-0.5 * z * z) / scale,
                             loc)
        d[scale] = unbroadcast(-d[result] * 0.3989422804014327 * np.exp(-0.5 * z * z) * z
                               / scale, scale)

    @tangent(stats.norm.cdf)
    def norm_cdf_tangent(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[result] = d[x] * 0.3989422804014327 * np.exp(-0.5 * z * z) / scale \
            - d[loc] * 0.3989422804014327 * np.exp(-0.5 * z * z) / scale \
            - d[scale] * 0.3989422804014327 * np.exp(-0.5 * z * z) * z / scale

    # the density over the distribution function, as exp(log pdf - log cdf): finite far
    # into the lower tail
    @adjoint(stats.norm.logcdf)
    def norm_logcdf(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[x] = unbroadcast(d[result] * np.exp(-0.5 * z * z - 0.9189385332046727 - result)
                           / scale, x)
        d[loc] = unbroadcast(-d[result] * np.exp(-0.5 * z * z - 0.9189385332046727 - result)
                             / scale, loc)
        d[scale] = unbroadcast(-d[result] * np.exp(-0.5 * z * z - 0.9189385332046727 - result)
                               * z / scale, scale)

    @tangent(stats.norm.logcdf)
    def norm_logcdf_tangent(result, x, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        d[result] = d[x] * np.exp(-0.5 * z * z - 0.9189385332046727 - result) / scale \
            - d[loc] * np.exp(-0.5 * z * z - 0.9189385332046727 - result) / scale \
            - d[scale] * np.exp(-0.5 * z * z - 0.9189385332046727 - result) * z / scale
