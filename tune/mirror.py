"""An experiment or assessment whose home is remote storage (``--storage s3://...``).

Ray Tune writes the trials and checkpoints there itself. This tool's own files (experiment.json, the
Optuna study, an assessment's plan and report) are written in a local working copy and uploaded when
they change: after every finished trial and at the end. A resume, ``crnn results`` or a report on
another machine first pulls the copy back (checkpoints only where they are read)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ray.tune import Callback

from crnn.storage import cache_dir, is_remote, join, push_tree
from crnn.storage import pull as pull_tree
from crnn.storage import push as push_files
from crnn.storage import ray_storage as fs_and_path


def no_checkpoints(rel: str) -> bool:
    """Leave out what a table never reads: trial checkpoints, the Ray Train runs beneath them, and pickles
    (Tune reads its own from the bucket on a resume; a local copy of one is only a risk)."""
    parts = rel.split("/")
    return parts[0] == "train_runs" or any(p.startswith("checkpoint_") for p in parts) or rel.endswith(".pkl")


def no_train_runs(rel: str) -> bool:
    return rel.split("/", maxsplit=1)[0] == "train_runs" or rel.endswith(".pkl")


@dataclass(frozen=True)
class Mirror:
    """``local`` is the folder every reader and writer of this tool uses; ``remote`` its home, or None
    when the folder is its own home (a local or mounted path)."""

    local: Path
    remote: str | None = None

    @classmethod
    def of(cls, uri: str) -> Mirror:
        """A remote folder and its working copy in the cache."""
        return cls(cache_dir(uri), uri)

    @classmethod
    def at(cls, where: str, name: str) -> Mirror:
        """The experiment ``name`` under ``where`` (a folder or a remote URI)."""
        return cls.of(join(where, name)) if is_remote(where) else cls(Path(where).resolve() / name)

    @property
    def checkpoints_to_keep(self) -> int:
        """Tune's ``num_to_keep`` per trial. On remote storage Tune uploads its experiment state without
        waiting and deletes an old checkpoint as a new one lands, so a kill can leave a state naming a
        checkpoint already gone ("does not exist on storage anymore"); keeping three outlasts that lag."""
        return 1 if self.remote is None else 3

    def ray_storage(self) -> tuple[str, object | None]:
        """(storage_path, storage_filesystem) of the folder holding this one, for Tune's ``RunConfig``."""
        if self.remote is None:
            return str(self.local.parent), None
        path, fs = fs_and_path(self.remote)
        return path.rsplit("/", 1)[0], fs

    def ray_path(self) -> tuple[str, object | None]:
        """(path, filesystem) of this folder itself, for ``Tuner.can_restore``/``restore``."""
        return (str(self.local), None) if self.remote is None else fs_and_path(self.remote)

    def sub(self, name: str) -> str:
        """Where Ray should keep ``name`` inside this folder (a local path or a remote URI)."""
        return str(self.local / name) if self.remote is None else join(self.remote, name)

    def pull(self, skip=no_checkpoints) -> int:
        return 0 if self.remote is None else pull_tree(self.remote, self.local, skip)

    def push(self, files: list[str]) -> int:
        return 0 if self.remote is None else push_files(self.local, self.remote, files)

    def push_all(self, skip=lambda rel: False) -> int:
        """Upload every file of the working copy but those ``skip`` names."""
        return 0 if self.remote is None else push_tree(self.local, self.remote, skip)

    def callback(self, files: list[str]):
        """A Tune callback that uploads ``files`` as every trial starts, finishes or fails, and at the end."""

        mirror = self

        class Upload(Callback):
            def on_trial_start(self, iteration, trials, trial, **info) -> None:
                mirror.push(files)

            def on_trial_complete(self, iteration, trials, trial, **info) -> None:
                mirror.push(files)

            def on_trial_error(self, iteration, trials, trial, **info) -> None:
                mirror.push(files)

            def on_experiment_end(self, trials, **info) -> None:
                mirror.push(files)

        return Upload()
