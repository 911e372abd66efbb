"""The folder an assessment writes, named once: ``tune.assess.run`` runs the trials into it and
``tune.assess.report`` reads them back, so both import these names and neither imports the other's."""

RUNS = "runs"  # Tune's experiment: one trial per (size, repeat)
TRAIN_RUNS = "train_runs"  # the Ray Train runs of multi-worker runs (--workers > 1)
TEST_FILE = "test.json"  # in a trial's final checkpoint: per-sample confidence and correctness on the test split
SETUP = "assess.json"  # the AssessSetup a resume rebuilds the trials from
ASSESSMENT = "assessment.json"  # the contract: scheme, curve, labels_to_break, verdict, latency, coverage
