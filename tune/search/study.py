"""The search's Optuna searcher, made portable: Ray Tune pickles the searcher into the experiment
(``tuner.pkl`` and ``searcher-state-*.pkl``), and Ray's ``OptunaSearch`` pickles its study with the
absolute SQLite path it was opened at. An experiment resumed from another folder or machine (a bucket's
working copy under another home, a moved experiment folder) then failed with "unable to open database
file". This subclass pickles the study's name and trial numbers only, and reopens the study at the
experiment's ``optuna.db`` on the machine that resumes it (``open_at`` says where, before Tune unpickles).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
from ray.tune.search.optuna import OptunaSearch

_STUDY_DB: list[Path] = []  # the optuna.db a resume reopens the study at (set by the driver)


def open_at(db: Path) -> None:
    """Where the next unpickled searcher reopens its study: this experiment's ``optuna.db``."""
    _STUDY_DB[:] = [Path(db)]


def sqlite_storage(db: Path):
    return optuna.storages.RDBStorage(f"sqlite:///{db}")


class PortableOptunaSearch(OptunaSearch):
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_ot_study"] = state["_storage"] = None
        state["_ot_trials"] = {key: trial._trial_id for key, trial in self._ot_trials.items()}  # optuna's own ids
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reopen()

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__setstate__(pickle.load(f))

    def _reopen(self) -> None:
        """Attach the study (and the running trials) in the experiment's optuna.db; nothing before ``open_at``."""
        if not _STUDY_DB:
            return
        if not all(isinstance(t, int) for t in self._ot_trials.values()):  # Ray's own pickle (an older experiment)
            return

        self._storage = sqlite_storage(_STUDY_DB[0])
        self._ot_study = optuna.load_study(study_name=self._study_name, storage=self._storage, sampler=self._sampler)
        self._ot_trials = {key: optuna.trial.Trial(self._ot_study, trial_id) for key, trial_id in self._ot_trials.items()}


def fail_orphans(db: Path, study_name: str) -> int:
    """Mark the study's trials still RUNNING as FAIL once the search is over: a driver killed mid-trial
    leaves its trial RUNNING in the study, and the resumed search records that trial again under a new
    number. Returns how many were marked."""

    if not Path(db).is_file():
        return 0
    storage = sqlite_storage(db)
    study = optuna.load_study(study_name=study_name, storage=storage)
    orphans = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]
    for trial in orphans:
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return len(orphans)
