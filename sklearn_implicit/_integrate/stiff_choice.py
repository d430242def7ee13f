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
    - elsewhere RODAS4 with the exact Jacobian by blocks where the network
      gives it (the convolutional one, :mod:`.block_jacobian`), or the
      matrix-free Rosenbrock-W method (:mod:`.krylov`).

    (Where both serve a small convolutional problem, the data Jacobian's
    order-5 steps took fewer evaluations than RODAS4's with the exact one:
    816 against 963 to a loss of 1e-100 at 20 x 12, depth 2, 2,078 against
    3,034 at 200 x 40, depth 3, with the intercept.)
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
