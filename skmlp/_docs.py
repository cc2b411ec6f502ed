"""Docstring fragments shared by the two estimators (one source, no drift)."""

SHARED_PARAMETERS = """\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or list of str, default='relu'
        Hidden-layer activation: 'identity', 'logistic' (alias 'sigmoid'),
        'tanh', 'relu', 'softplus', 'leaky_relu' (slope 0.01), 'elu', 'gelu' or
        'silu'; or a list with one name per hidden layer.
    solver : {'lbfgs', 'sgd', 'adam', 'nag', 'rmsprop', 'adagrad', 'adamw'}, \
default='adam'
        The weight optimizer. 'lbfgs' is SciPy's L-BFGS-B; 'sgd' is stochastic
        gradient descent with (Nesterov) momentum; 'nag' is Nesterov's
        accelerated gradient with the ``t_k`` sequence, the gradient taken at
        the look-ahead point; 'adamw' is Adam with decoupled weight decay.
    alpha : float, default=0.0001
        Strength of the L2 penalty ``alpha / 2 * ||W||^2``, divided by the sum of
        sample weights of each (mini-)batch, as in scikit-learn.
    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; 'auto' is
        ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'exponential', \
'step', 'cosine'}, default='constant'
        Learning-rate schedule. scikit-learn's 'invscaling' and 'adaptive'
        apply to ``solver='sgd'`` only (as in scikit-learn); 'exponential'
        (``lr_decay ** epoch``), 'step' (``lr_decay`` every ``lr_step_size``
        epochs) and 'cosine' (down to ``lr_min`` over ``max_iter`` epochs) apply
        to every stochastic solver.
    learning_rate_init : float, default=0.001
        Initial learning rate of the stochastic solvers.
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (L-BFGS).
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout masks and the
        early-stopping split.
    tol : float, default=1e-4
        Tolerance of the stopping criterion.
    verbose : bool, default=False
        Whether to print progress messages.
    warm_start : bool, default=False
        Continue from the previous solution, optimizer state, schedule and
        shuffling sequence included: two warm fits of k epochs equal one fit of
        2k epochs.
    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.
    nesterovs_momentum : bool, default=True
        Whether ``solver='sgd'`` uses Nesterov's momentum.
    early_stopping : bool, default=False
        Stop when the validation metric stops improving and keep the best
        weights. The validation set is ``fit``'s ``X_val``/``y_val`` if given,
        else a stratified ``validation_fraction`` split of the training data.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.
    beta_1 : float, default=0.9
        Decay rate of Adam's first moment.
    beta_2 : float, default=0.999
        Decay rate of Adam's second moment.
    epsilon : float, default=1e-8
        Numerical-stability constant of Adam, AdamW, RMSprop and Adagrad.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver='lbfgs'``.
    lr_decay : float, default=0.95
        Decay factor of the 'exponential' and 'step' schedules.
    lr_step_size : int, default=10
        Epochs between two decays of the 'step' schedule.
    lr_min : float, default=0.0
        Final learning rate of the 'cosine' schedule.
    warmup_epochs : int, default=0
        Epochs of linear learning-rate warm-up (stochastic solvers).
    rho : float, default=0.9
        Decay rate of RMSprop's squared-gradient average.
    weight_decay : float, default=0.01
        Decoupled weight decay of ``solver='adamw'``.
    alpha_l1 : float, default=0.0
        Strength of the L1 penalty ``alpha_l1 * ||W||_1``, scaled like ``alpha``.
    dropout : float or list of float, default=0.0
        Dropout rate of the hidden units, one for all hidden layers or one per
        hidden layer; masks are drawn from ``random_state`` during training
        only (inverted dropout: nothing changes at prediction time).
    max_grad_norm : float, default=None
        Clip each mini-batch gradient to this Euclidean norm.
    weight_init : {'sklearn', 'glorot_uniform', 'glorot_normal', 'he_uniform', \
'he_normal', 'lecun_uniform', 'lecun_normal', 'normal'}, default='sklearn'
        Initialisation: scikit-learn's Glorot-uniform draws, or a named scheme
        with zero intercepts ('lecun_normal' is the Gaussian scaled by
        ``1/sqrt(fan_in)``; 'normal' has standard deviation ``init_scale``).
    init_scale : float, default=0.01
        Standard deviation of ``weight_init='normal'``.
    early_stopping_metric : {'score', 'loss'}, default='score'
        What early stopping watches on the validation set.
    batch_norm : bool or list of bool, default=False
        Batch normalization of the hidden layers (all, or one flag per hidden
        layer), after the affine map and before the activation. Training
        normalises each unit by its mini-batch's mean and variance, weighted by
        ``sample_weight`` (biased variance); prediction, scoring and the
        per-epoch validation use running averages of them. The intercept of a
        normalised layer is frozen at 0 (the normalization's offset takes its
        role). Needs batches of 2 or more samples: a trailing one-sample
        mini-batch joins the one before it.
    batch_norm_momentum : float, default=0.1
        Weight of each batch in the running statistics, PyTorch's convention:
        ``running = (1 - momentum) * running + momentum * batch`` (Keras's
        ``momentum=0.99`` is 0.01 here). L-BFGS sets them to the full batch's
        statistics at its solution.
    batch_norm_epsilon : float, default=1e-5
        Added to the variance before its square root."""

SHARED_ATTRIBUTES = """\
loss_ : float
        Loss of the last epoch (stochastic solvers) or at the solution (L-BFGS).
    best_loss_ : float or None
        Lowest training loss seen (None with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation score per epoch, with early stopping or ``X_val``.
    validation_loss_curve_ : list of float or None
        Validation loss (without penalty) per epoch, with early stopping or
        ``X_val``.
    best_validation_score_ : float or None
        Best validation score, with early stopping or ``X_val``.
    t_ : int
        Number of training samples seen by the solver.
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape (units of layer i, units of
        layer i + 1).
    intercepts_ : list of ndarray
        Bias vectors.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.
    n_iter_ : int
        Number of epochs (iterations) run by the last call.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    batch_norm_scales_ : list of ndarray or None
        Per hidden layer, the trained scale (gamma) of its batch normalization,
        of shape (units,), or None where it has none.
    batch_norm_offsets_ : list of ndarray or None
        Per hidden layer, the trained offset (beta), or None.
    batch_norm_means_ : list of ndarray or None
        Per hidden layer, the running mean of its pre-activations, or None.
    batch_norm_vars_ : list of ndarray or None
        Per hidden layer, the running (biased) variance, or None."""
