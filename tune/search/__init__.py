"""``crnn tune``, ``crnn results`` and ``crnn retrain``: the hyperparameter search on Ray Tune with Optuna
(``run``, ``trial``, ``space`` and ``space.yaml``, ``study``), its experiment folder and trials table
(``experiment``, ``results``, ``plots``, ``progress``), and retraining the best trial (``retrain``)."""
