"""The faults tests inject into runs (see sitecustomize.py): CRNN_TEST_FAULTS is a JSON object.

- ``crash_trials``: a path to a JSON object of ``section.key: value``; while that file exists, a run whose
  config has those values raises as it starts, every time it runs (a trial Tune retries, then marks errored).
- ``crash_once``: a trigger-file path; while it exists and TRIGGER.fired does not, rank 1 raises once as it
  is about to report epoch 2: a whole epoch after epoch 1's checkpoint, which Ray has registered by then.
"""

import contextlib
import json
import os
from pathlib import Path

ENV = "CRNN_TEST_FAULTS"
HOOKS = str(Path(__file__).parent)


def environ(**faults: str) -> dict[str, str]:
    """The variables a process (and every one it starts) needs for ``faults``."""
    path = os.pathsep.join([HOOKS, *filter(None, [os.environ.get("PYTHONPATH")])])
    return {ENV: json.dumps(faults), "PYTHONPATH": path}


@contextlib.contextmanager
def faults(**named: str):
    """``environ(**named)`` in this process's environment for the block (Ray started inside it inherits it)."""
    env = environ(**named)
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def install(callbacks) -> None:
    faults = json.loads(os.environ.get(ENV) or "{}")

    class CrashTrials(callbacks.Callback):
        def on_fit_start(self, t):
            trigger = Path(faults["crash_trials"])
            if not trigger.exists():
                return
            config = t.config.to_dict()
            wanted = json.loads(trigger.read_text())
            if all(config[k.split(".")[0]][k.split(".")[1]] == v for k, v in wanted.items()):
                raise RuntimeError("injected trial failure (crash_trials)")

    class CrashOnce(callbacks.Callback):
        def on_epoch_end(self, t, row, improved):
            trigger = Path(faults["crash_once"])
            fired = Path(str(trigger) + ".fired")
            if t.opts.rank == 1 and row["epoch"] == 2 and trigger.exists() and not fired.exists():
                fired.touch()
                raise RuntimeError("injected worker failure (crash_once)")

    if "crash_trials" in faults:
        callbacks.INSTALLED.append(CrashTrials)
    if "crash_once" in faults:
        callbacks.INSTALLED.append(CrashOnce)
