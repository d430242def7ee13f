"""Solvers of the shifted systems ``(s I - A) x = b`` of the stiff steps.

``A`` is a :class:`~sklearn_implicit._integrate.jacobian.FlowJacobian`: a
dense ``d x d`` matrix where ``d <= n + 1``, otherwise a diagonal plus a part
of rank ``n + 1`` whose systems are solved by the Woodbury identity. The
shift is real (Rosenbrock methods) or complex (the complex pair of the
Radau IIA method, :mod:`.radau`; the dense and the low-rank solvers only).
"""

import numpy as np
from scipy.linalg.lapack import dgetrf, dgetrs, zgetrf, zgetrs

from .stiff_cost import factorization_cost


def _lu_factor(a):
    """LU factors of a square system (LAPACK getrf, as scipy's ``lu_factor``),
    real or complex.

    A singular system (a zero pivot: h gamma times an eigenvalue = 1,
    possible only where the flow expands) gives non-finite solutions, and the
    step is retried smaller.
    """
    # LAPACK directly: with scipy.linalg's wrappers (array checks, batching)
    # a solve of the Woodbury system at n = 100 took 23 us, with getrs 7
    lu, piv, _ = (zgetrf if np.iscomplexobj(a) else dgetrf)(a, overwrite_a=True)
    return lu, piv


def _lu_solve(factors, b):
    lu, piv = factors
    if np.iscomplexobj(lu):
        return zgetrs(lu, piv, b)[0]
    if np.iscomplexobj(b):
        # a real system: its real and imaginary parts apart
        return dgetrs(lu, piv, b.real)[0] + 1j * dgetrs(lu, piv, b.imag)[0]
    return dgetrs(lu, piv, b)[0]


def _shifted(scale, a, shift):
    """``scale a + shift I``, in place of the square ``a`` (a new complex
    array for a complex shift: the complex-conjugate pair of Radau's)."""
    if np.iscomplexobj(shift):
        a = a.astype(complex)
    a *= scale
    # the diagonal as a strided view (np.diag_indices_from builds index
    # arrays, a visible cost next to the LU at n = 100)
    a.ravel()[:: a.shape[0] + 1] += shift
    return a


class DenseSolver:
    def __init__(self, jac, shift):
        self.shift, self.lu_cost = shift, jac.lu_cost
        self._lu = _lu_factor(_shifted(-1.0, jac.matrix.copy(), shift))

    def project(self, v):
        return None

    def solve(self, b, yb):
        return _lu_solve(self._lu, b), None


class WoodburySolver:
    """``(s I - W K Y^T)^{-1} b = (b + W (s I - K C)^{-1} K Y^T b) / s``."""

    def __init__(self, jac, shift):
        self.jac, self.shift, self.lu_cost = jac, shift, jac.lu_cost
        self._lu = _lu_factor(_shifted(-1.0, jac.apply_K(jac.core), shift))

    def project(self, v):
        """``Y^T v``."""
        return self.jac.project(v)

    def solve(self, b, yb):
        """``x`` and ``Y^T x`` from ``b`` and ``Y^T b``."""
        jac = self.jac
        z = _lu_solve(self._lu, jac.apply_K(yb))
        return (b + jac.apply_W(z)) / self.shift, (yb + jac.core @ z) / self.shift


class DiagonalWoodburySolver:
    """``(D - W K Y^T)^{-1} b = D^{-1} (b + W (I - K C)^{-1} K Y^T D^{-1} b)``
    with the diagonal ``D = s I - diag_part`` and ``C = Y^T D^{-1} W``.

    ``C`` depends on the shift: a Gram matrix per factorization. Where the
    Gram matrix keeps few columns (``C = L R`` of inner size ``k + 2 <= n``,
    see :meth:`FlowJacobian.capacitance`), a second Woodbury identity,
    ``(I - K L R)^{-1} = I + K L (I - R K L)^{-1} R``, factors a ``k + 2``
    square system in place of the ``n + 1`` square one, whose LU takes
    ``n**3 / 3`` multiply-adds at every step size. A zero ``D_jj`` (``h gamma``
    times a growth rate = 1) gives non-finite stages, and the step is
    retried smaller (see :func:`_lu_factor`).
    """

    def __init__(self, jac, shift):
        self.jac, self.shift = jac, shift
        self._inv = 1.0 / (shift - jac.diag_part)
        C = jac.capacitance(self._inv, factored=True)
        if isinstance(C, tuple):
            L, self._R = C
            self._KL = jac.apply_K(L)
            self._lu = _lu_factor(_shifted(-1.0, self._R @ self._KL, 1.0))
        else:
            self._KL = None
            self._lu = _lu_factor(_shifted(-1.0, jac.apply_K(C), 1.0))
        self.lu_cost = (jac.lu_cost if self._KL is None
                        else factorization_cost(jac.Z.shape, self._lu[0].shape[0]))

    def project(self, v):
        # Y^T D^{-1} b is formed in solve: it costs one product, as Y^T b would
        return None

    def solve(self, b, yb):
        jac, inv = self.jac, self._inv
        z = jac.apply_K(jac.project(inv * b))
        if self._KL is None:
            z = _lu_solve(self._lu, z)
        else:
            z = z + self._KL @ _lu_solve(self._lu, self._R @ z)
        return inv * (b + jac.apply_W(z)), None
