"""Which implicit step method serves a flow (``solver='stiff'``, and the
stiff phase of ``solver='auto'``)."""

from .jacobian import supports_stiff
from .krylov import KrylovW, serves_data
from .radau import Radau5, serves
from .rosenbrock import Rodas4


def stiff_stepper(flow, tol):
    """A new implicit stepper for ``flow``.

    - Radau IIA of order 5 (:mod:`.radau`) for a margin loss where the
      Jacobian is exact and dense (``d <= n + 1``: tall designs, whose
      linear systems are small) or without a diagonal part (depth 2: one
      Woodbury core serves the complex shift too);
    - RODAS4 (:mod:`.rosenbrock`) where it is exact otherwise (wide designs
      at depth 3 and beyond, whose Woodbury solves need a Gram matrix per
      shift, kept real by a Rosenbrock method's real shifts; the squared
      loss, see :func:`~.radau.serves`);
    - for the networks without an exact Jacobian (the dense and the
      convolutional ones), Radau IIA again where the data part of the
      Jacobian, pulled back through the network, is small (``min(n, d) <=
      DATA_RANK``, or ``DATA_RANK_BATCHED`` for the dense network, whose
      batched columns pay there; a margin loss:
      :func:`~.krylov.serves_data`), its simplified Newton iterations run
      with that part alone; elsewhere the matrix-free Rosenbrock-W method
      (:mod:`.krylov`).
    """
    if not supports_stiff(flow):
        if serves_data(flow):
            return Radau5(tol=tol, jacobian="data")
        return KrylovW(tol=tol)
    if serves(flow):
        return Radau5(tol=tol)
    return Rodas4(tol=tol)
