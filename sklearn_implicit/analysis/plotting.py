r"""Plots of the implicit bias: normalized margins along training, regime maps.

Displays in the scikit-learn style: build them with ``from_estimator`` or
``from_path`` (which compute what is drawn and call :meth:`plot`), or with
the constructor from precomputed arrays; after ``plot`` they expose
``ax_`` and ``figure_``. Matplotlib (the ``plot`` extra) is imported only
when something is drawn.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .separators import max_margin

__all__ = ["ImplicitBiasDisplay", "RegimeMapDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install 'sklearn-implicit[plot]'."
        ) from exc
    return plt


def _references(X, y, fit_intercept):
    """Largest l1- and l2-normalized margins of the data, or ``None``s."""
    if X is None:
        return None, None
    return tuple(
        max_margin(X, y, norm=norm, fit_intercept=fit_intercept).margin
        for norm in ("l1", "l2")
    )


class ImplicitBiasDisplay:
    r"""Normalized margins against :math:`-\log_{10}` (loss), one curve per alpha.

    Early in training (or at large ``alpha``) the :math:`\ell_2`-normalized
    margin approaches its maximum, the hard-margin SVM (kernel regime); late
    in training at moderate ``alpha`` the :math:`\ell_1`-normalized margin
    grows towards the :math:`\ell_1` max margin (rich regime). Dashed lines
    mark the maxima.

    Parameters
    ----------
    neg_log10_loss : list of ndarray
        :math:`-\log_{10}` of the training loss along each curve.
    l1_margin, l2_margin : list of ndarray
        Normalized margins along each curve (same lengths).
    labels : list of str
        Legend entry of each curve.
    l1_max_margin, l2_max_margin : float, default=None
        The references drawn as dashed lines (none when None).

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes, shape (2,)
        The l1 and the l2 panel.
    figure_ : matplotlib Figure
    lines_ : list of matplotlib Line2D
        The curves, l1 panel first.

    See Also
    --------
    RegimeMapDisplay : The (alpha, target) plane coloured by regime.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import implicit_bias_path
    >>> from sklearn_implicit.analysis import ImplicitBiasDisplay
    >>> X = np.array([[2.0, 1.0], [1.0, -1.0], [-2.0, 0.5], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 0, 0])
    >>> path = implicit_bias_path(X, y, [0.1, 10.0], np.logspace(-1, -20, 5))
    >>> disp = ImplicitBiasDisplay.from_path(path, X, y)
    >>> disp.ax_.shape
    (2,)
    """

    def __init__(self, neg_log10_loss, l1_margin, l2_margin, labels,
                 l1_max_margin=None, l2_max_margin=None):
        self.neg_log10_loss = neg_log10_loss
        self.l1_margin = l1_margin
        self.l2_margin = l2_margin
        self.labels = labels
        self.l1_max_margin = l1_max_margin
        self.l2_max_margin = l2_max_margin

    def plot(self, ax=None):
        """Draw the two panels.

        Parameters
        ----------
        ax : array-like of two matplotlib Axes, default=None
            The l1 and l2 panels; a new figure with two panels when None.

        Returns
        -------
        display : ImplicitBiasDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        ax = np.asarray(ax, dtype=object).ravel()
        if ax.shape != (2,):
            raise ValueError(
                f"ax must hold two Axes (the l1 and the l2 panel); got {ax.shape[0]}."
            )
        self.lines_ = []
        panels = [
            (ax[0], self.l1_margin, self.l1_max_margin, "l1"),
            (ax[1], self.l2_margin, self.l2_max_margin, "l2"),
        ]
        for axis, margins, reference, name in panels:
            for x, m, label in zip(self.neg_log10_loss, margins, self.labels):
                (line,) = axis.plot(x, m, marker=".", label=label)
                self.lines_.append(line)
            if reference is not None:
                axis.axhline(reference, color="k", linestyle="--", linewidth=1,
                             label=f"{name} max margin")
            axis.set_xlabel("-log10(training loss)")
            axis.set_ylabel(f"{name}-normalized margin")
            axis.legend(fontsize="small")
        self.ax_ = ax
        self.figure_ = ax[0].figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X=None, y=None, *, problem=0, label=None,
                       ax=None):
        """Margins along the training history of a fitted estimator.

        Uses ``estimator.history_[problem]`` (one record per decade of loss).
        There the norms include the intercept weight when the estimator fits
        an intercept, so the references (computed with a free intercept) are
        exact only for ``fit_intercept=False``.

        Parameters
        ----------
        estimator : fitted DiagonalLinearClassifier
        X, y : array-like, default=None
            Binary training data for the max-margin references (none if X
            is None).
        problem : int, default=0
            Which binary (one-vs-rest) problem to draw.
        label : str, default=None
            Legend entry; ``alpha=...`` when None.
        ax : array-like of two Axes, default=None

        Returns
        -------
        display : ImplicitBiasDisplay
        """
        check_is_fitted(estimator, "history_")
        h = estimator.history_[problem]
        if label is None:
            label = f"alpha={estimator.alpha:g}" if np.ndim(estimator.alpha) == 0 else (
                "alpha (per feature)"
            )
        l1_ref, l2_ref = _references(X, y, getattr(estimator, "fit_intercept", False))
        disp = cls([-h["log10_loss"]], [h["l1_margin"]], [h["l2_margin"]], [label],
                   l1_ref, l2_ref)
        return disp.plot(ax=ax)

    @classmethod
    def from_path(cls, path, X=None, y=None, *, fit_intercept=False, ax=None):
        """Margins of an :func:`~sklearn_implicit.analysis.path.implicit_bias_path`.

        Parameters
        ----------
        path : Bunch
            The result of ``implicit_bias_path``; one curve per alpha.
        X, y : array-like, default=None
            The path's data, for the max-margin references (none if X is
            None).
        fit_intercept : bool, default=False
            Whether the path was computed with an intercept (for the
            references).
        ax : array-like of two Axes, default=None

        Returns
        -------
        display : ImplicitBiasDisplay
        """
        order = np.argsort(path.target_losses)[::-1]
        labels = [
            f"alpha={a:g}" if np.ndim(a) == 0 else f"alpha #{k}"
            for k, a in enumerate(path.alphas)
        ]
        l1_ref, l2_ref = _references(X, y, fit_intercept)
        disp = cls(
            [-row[order] for row in path.log10_loss],
            [row[order] for row in path.l1_margin],
            [row[order] for row in path.l2_margin],
            labels,
            l1_ref,
            l2_ref,
        )
        return disp.plot(ax=ax)


class RegimeMapDisplay:
    r"""The (alpha, target loss) plane coloured by kernel vs rich regime.

    The colour of a point is the regime score

    .. math::

        \frac{1 - r_2}{(1 - r_1) + (1 - r_2)},

    where :math:`r_1` and :math:`r_2` are the :math:`\ell_1`- and
    :math:`\ell_2`-normalized margins divided by their maxima (each in
    :math:`(0, 1]` once the data are separated): 0 where the coefficients
    are at the :math:`\ell_2` max margin (kernel regime), 1 at the
    :math:`\ell_1` max margin (rich regime), 0.5 when equally far from
    both. Margins are used rather than directions
    because the l1 max-margin direction need not be unique.

    Parameters
    ----------
    alphas : ndarray of shape (n_alphas,)
        Initialization scales (rows).
    neg_log10_loss : ndarray of shape (n_targets,)
        :math:`-\log_{10}` of the target losses (columns).
    score : ndarray of shape (n_alphas, n_targets)
        The regime score (NaN where the data are not yet separated).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    mesh_ : matplotlib QuadMesh
    colorbar_ : matplotlib Colorbar

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import implicit_bias_path
    >>> from sklearn_implicit.analysis import RegimeMapDisplay
    >>> X, y = [[1.0, 2.0], [2.0, -1.0], [-1.0, 0.5], [-2.0, -1.0]], [1, 1, 0, 0]
    >>> path = implicit_bias_path(X, y, alphas=np.logspace(-1, 1, 3),
    ...                           target_losses=np.logspace(-1, -20, 4))
    >>> disp = RegimeMapDisplay.from_path(path, X, y)
    >>> disp.score.shape
    (3, 4)
    """

    def __init__(self, alphas, neg_log10_loss, score):
        self.alphas = alphas
        self.neg_log10_loss = neg_log10_loss
        self.score = score

    @staticmethod
    def regime_score(l1_margin, l2_margin, l1_max_margin, l2_max_margin):
        """The score defined above, elementwise (NaN for non-positive margins)."""
        r1 = np.asarray(l1_margin, dtype=float) / l1_max_margin
        r2 = np.asarray(l2_margin, dtype=float) / l2_max_margin
        gap1, gap2 = np.clip(1.0 - r1, 0.0, None), np.clip(1.0 - r2, 0.0, None)
        total = gap1 + gap2
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(total > 0, gap2 / total, 0.5)
        return np.where((r1 > 0) & (r2 > 0), score, np.nan)

    def plot(self, ax=None, *, cmap="coolwarm"):
        """Draw the map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            A new figure when None.
        cmap : str or Colormap, default="coolwarm"

        Returns
        -------
        display : RegimeMapDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        self.mesh_ = ax.pcolormesh(
            self.neg_log10_loss, np.log10(self.alphas), self.score,
            cmap=cmap, vmin=0.0, vmax=1.0, shading="nearest",
        )
        self.colorbar_ = ax.figure.colorbar(self.mesh_, ax=ax)
        self.colorbar_.set_label("0: l2 max margin (kernel) ... 1: l1 (rich)")
        ax.set_xlabel("-log10(target loss)")
        ax.set_ylabel("log10(alpha)")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_path(cls, path, X, y, *, fit_intercept=False, ax=None, cmap="coolwarm"):
        """Regime map of an :func:`~sklearn_implicit.analysis.path.implicit_bias_path`.

        Parameters
        ----------
        path : Bunch
            Result of ``implicit_bias_path`` with scalar alphas.
        X, y : array-like
            The path's (separable) data, for the max-margin references.
        fit_intercept : bool, default=False
            Whether the path was computed with an intercept.
        ax : matplotlib Axes, default=None
        cmap : str or Colormap, default="coolwarm"

        Returns
        -------
        display : RegimeMapDisplay
        """
        alphas = np.asarray(path.alphas, dtype=float)
        if alphas.ndim != 1:
            raise ValueError(
                "RegimeMapDisplay needs a path computed with scalar alphas; got "
                f"alphas of shape {alphas.shape}."
            )
        l1_ref, l2_ref = _references(X, y, fit_intercept)
        a_order = np.argsort(alphas)
        t_order = np.argsort(path.target_losses)[::-1]
        score = cls.regime_score(path.l1_margin, path.l2_margin, l1_ref, l2_ref)
        disp = cls(
            alphas[a_order],
            -np.log10(path.target_losses[t_order]),
            score[np.ix_(a_order, t_order)],
        )
        return disp.plot(ax=ax, cmap=cmap)
