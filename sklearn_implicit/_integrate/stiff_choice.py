"""Which implicit step method serves a flow (``solver='stiff'``, and the
stiff phase of ``solver='auto'``)."""

from .jacobian import supports_stiff
from .krylov import KrylovW, serves_data
from .radau import Radau5, serves, serves_blocks
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
    - for the networks without the diagonal Jacobian (the dense and the
      convolutional ones), Radau IIA again where the data part of the
      Jacobian, pulled back through the network, is small (``min(n, d) <=
      DATA_RANK``, or ``DATA_RANK_BATCHED`` for the dense network, whose
      batched columns pay there; a margin loss:
      :func:`~.krylov.serves_data`), its simplified Newton iterations run
      with that part alone;
    - beyond, Radau IIA with that part formed by blocks where the network
      gives its Jacobian so (the convolutional one, :mod:`.block_jacobian`),
      at any rank; the matrix-free Rosenbrock-W method (:mod:`.krylov`)
      for the others.

    (Where both serve a small convolutional problem, the data Jacobian
    stays: with ``solver='stiff'`` both took the same evaluations within 5%
    on seven problems from 20 x 12 to 200 x 40, and with ``solver='auto'``
    the data Jacobian's cheaper model cost let the switch come earlier, in
    up to 20% fewer evaluations: 816 against 938 to a loss of 1e-100 at
    20 x 12, depth 2; 1,499 against 1,859 at 60 x 64, depth 3.)
    """
    if serves(flow):
        return Radau5(tol=tol)
    if not hasattr(flow.network, "log_rates_with_slopes") and serves_data(flow):
        return Radau5(tol=tol, jacobian="data")
    if serves_blocks(flow):
        return Radau5(tol=tol, jacobian="blocks")
    if supports_stiff(flow):
        return Rodas4(tol=tol)
    return KrylovW(tol=tol)
