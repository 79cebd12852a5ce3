"""srcad: automatic differentiation of Python and NumPy by source transformation."""
from .api import grad, show, value_and_grad, vjp
from .errors import NoDerivativeError, SrcadError, UnsupportedSyntaxError
from .rules import adjoint, tangent
from .runtime import stop_gradient

__all__ = ["grad", "value_and_grad", "vjp", "show", "adjoint", "tangent", "stop_gradient",
           "SrcadError", "UnsupportedSyntaxError", "NoDerivativeError"]
__version__ = "0.1.0"
