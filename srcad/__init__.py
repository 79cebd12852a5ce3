"""srcad: automatic differentiation of Python and NumPy by source transformation."""
from .api import config, grad, hessian, hvp, jacobian, jvp, show, value_and_grad, vjp
from .containers import register_container
from .errors import NoDerivativeError, SrcadError, UnsupportedSyntaxError
from .rules import adjoint, tangent
from .runtime import grad_of, stop_gradient

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp", "show", "adjoint", "tangent", "stop_gradient", "grad_of",
           "register_container",
           "config", "SrcadError", "UnsupportedSyntaxError", "NoDerivativeError"]
__version__ = "0.1.0"
