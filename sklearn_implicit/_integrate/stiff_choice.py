"""Which implicit step method serves a flow (``solver='stiff'``, and the
stiff phase of ``solver='auto'``)."""

from .jacobian import supports_stiff
from .krylov import KrylovW
from .radau import Radau5, serves
from .rosenbrock import Rodas4


def stiff_stepper(flow, tol):
    """A new implicit stepper for ``flow``.

    - Radau IIA of order 5 (:mod:`.radau`) where the Jacobian is exact and
      dense (``d <= n + 1``: tall designs), whose linear systems are small;
    - RODAS4 (:mod:`.rosenbrock`) where it is exact and the design is wide
      (its solves then go through the Woodbury identity, which a Rosenbrock
      method's real shifts keep real);
    - the matrix-free Rosenbrock-W method (:mod:`.krylov`) for the networks
      without an exact Jacobian.
    """
    if not supports_stiff(flow):
        return KrylovW(tol=tol)
    if serves(flow):
        return Radau5(tol=tol)
    return Rodas4(tol=tol)
