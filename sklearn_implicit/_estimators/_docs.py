"""Docstring text that every estimator shares, written once.

The parameters of the training dynamics are the same on every estimator
(they live in :class:`~.base.BaseFlowEstimator`), so their descriptions are
too: a class docstring holds the marker line ``%(dynamics_parameters)s`` in
its Parameters section and :func:`fill_docstring` replaces it (and the line
``%(sgd_random_state)s``, the ``random_state`` of an estimator that uses it
for nothing else). The cross-validated classifiers share their scores and
fitted attributes the same way (``%(cv_score_attributes)s`` and
``%(cv_fit_attributes)s``); the cross-validated regressor, whose scores are
not those of one-vs-rest problems, shares the rest of them
(``%(cv_results_attributes)s``). The diagonal estimators share the
description of their step methods (``%(diagonal_solver)s``).
"""

_DYNAMICS_PARAMETERS = """\
    dynamics : {'flow', 'gd', 'sgd', 'sign', 'coordinate'}, default='flow'
        The training dynamics whose answer is returned. ``'flow'``: the
        exact gradient flow (integrated by ``solver``). The others take
        discrete steps on the network's raw weights from the same
        initialization: ``'gd'`` full-batch gradient descent, ``'sgd'``
        mini-batch stochastic gradient descent (see ``batch_size`` and
        ``random_state``), ``'sign'`` and ``'coordinate'`` the steepest
        descents of the l_inf and l_1 norms of the weights (sign descent and
        greedy coordinate descent). A finite step and gradient noise change
        the implicit bias (see :ref:`discrete_dynamics` in the User Guide).
        A discrete run stops at the first iterate whose training loss is at
        most ``target_loss``; SGD checks the full training loss at the end of
        every epoch only, so that its stop is an epoch's end.

    learning_rate : float, default=None
        Step size of the discrete dynamics, required when ``dynamics`` is not
        ``'flow'`` (ignored by the flow). It has no default: the largest
        stable step depends on the data, ``alpha`` and ``depth``. A step too
        large makes the run diverge: ``status_`` is then ``'diverged'``, with
        a ConvergenceWarning that says so, and the model is the last iterate
        of finite loss.

    learning_rate_schedule : {'constant', 'normalized'}, default='constant'
        ``'constant'``: every step has the size ``learning_rate``.
        ``'normalized'``: ``learning_rate / L`` at a training loss ``L`` (the
        mini-batch loss for SGD), normalized gradient descent (Nacson et al.,
        AISTATS 2019): on separable data the logarithm of the loss then falls
        linearly in the number of steps, where a constant step makes the loss
        itself fall only like ``1 / steps``.

    batch_size : int or 'auto', default='auto'
        Mini-batch size of ``dynamics='sgd'`` (ignored by the others);
        ``'auto'`` is ``min(200, n_samples)``, as in
        :class:`~sklearn.neural_network.MLPClassifier`. Every epoch shuffles
        the samples and visits each once, in batches of this size (the last
        one smaller when it does not divide ``n_samples``); repeated rows of
        ``X`` stay separate samples. A size of at least ``n_samples`` is
        gradient descent.
"""

_SGD_RANDOM_STATE = """\
    random_state : int, RandomState instance or None, default=None
        Draws the mini-batch shuffles of ``dynamics='sgd'`` (one seed per
        problem, drawn before dispatch, so results do not depend on
        ``n_jobs``); not used otherwise. Pass an int for reproducible output
        across multiple function calls. See :term:`Glossary <random_state>`.
"""

_CV_RESULTS_ATTRIBUTES = """\
    cv_results_ : dict of ndarrays
        The scores in the layout of ``GridSearchCV.cv_results_`` (candidates
        over ``alphas`` then ``target_losses``): ``'params'``,
        ``'param_alpha'``, ``'param_target_loss'``, ``'split{k}_test_score'``,
        ``'mean_test_score'``, ``'std_test_score'``, ``'rank_test_score'``.

    best_index_ : int
        The index of the chosen candidate in ``cv_results_``.

    best_score_ : float
        Its mean score over the folds.
"""

_CV_SCORE_ATTRIBUTES = """\
    scores_ : ndarray of shape (n_folds, n_alphas, n_targets)
        The score of each grid point on each test fold. One array for all
        classes: the one-vs-rest problems share one ``alpha`` and one
        ``target_loss`` and are scored together as one multiclass model.

""" + _CV_RESULTS_ATTRIBUTES

_CV_FIT_ATTRIBUTES = """\
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients (end-to-end) of the chosen model.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Its intercepts.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_splits_ : int
        Number of cross-validation splits.

    n_iter_ : int
        Largest number of integrator steps of a trajectory (of the folds and
        of the refit).

    n_grad_evals_ : ndarray of shape (n_folds, n_alphas)
        Gradient evaluations of the trajectories of each fold and scale (all
        one-vs-rest problems together), excluding the refit.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
"""

_DIAGONAL_SOLVER = """\
    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator. ``'explicit'``: DOP853 (order 8).
        ``'stiff'``: an implicit method with the exact Jacobian of the flow,
        formed at every step. For classification, where the design has at
        most one column more than it has rows (tall data; the intercept's
        column and merged duplicate rows counted), or at depth 2, the
        three-stage Radau IIA method (order 5), whose Newton iterations
        solve dense square systems of the size of the coefficients (tall
        data) or go through the Woodbury identity (wide data); otherwise,
        and for regression, the linearly implicit Rosenbrock method RODAS4
        (order 4), whose linear solves use the Jacobian's structure, a
        diagonal plus a part of rank ``n_samples + 1``. ``'auto'``:
        explicit while the flow is not stiff, switching to the implicit
        method when the explicit steps become limited by stability (late in
        training, and on ill-conditioned non-separable data) and a trial
        shows it cheaper (Jacobians and linear solves counted). All three follow the same path to ``tol``.
        Used by ``dynamics='flow'`` only.
"""

# marker line -> its text
_FRAGMENTS = {
    "    %(dynamics_parameters)s\n": _DYNAMICS_PARAMETERS,
    "    %(diagonal_solver)s\n": _DIAGONAL_SOLVER,
    "    %(sgd_random_state)s\n": _SGD_RANDOM_STATE,
    "    %(cv_score_attributes)s\n": _CV_SCORE_ATTRIBUTES,
    "    %(cv_results_attributes)s\n": _CV_RESULTS_ATTRIBUTES,
    "    %(cv_fit_attributes)s\n": _CV_FIT_ATTRIBUTES,
}


def fill_docstring(cls):
    """Class decorator: put the shared parameter descriptions in ``cls.__doc__``."""
    doc = cls.__doc__
    if not any(marker in doc for marker in _FRAGMENTS):
        raise ValueError(f"{cls.__name__}'s docstring has no marker line of _docs.")
    for marker, text in _FRAGMENTS.items():
        doc = doc.replace(marker, text)
    cls.__doc__ = doc
    return cls
