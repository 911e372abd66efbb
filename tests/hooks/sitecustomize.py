"""Fault injection in processes the tests do not run themselves (Ray's trial actors and Train workers).

A test that needs it puts this folder on PYTHONPATH and names the faults in CRNN_TEST_FAULTS before Ray
starts; every Python process Ray starts then imports this module at start-up. Nothing is imported
until the process imports ``crnn.training.callbacks``; then the faults join its ``INSTALLED`` callbacks.
"""

import importlib.abc
import importlib.util
import os
import sys

TARGET = "crnn.training.callbacks"


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            import crnn_faults  # this folder

            crnn_faults.install(module)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("CRNN_TEST_FAULTS"):
    sys.meta_path.insert(0, _AfterImport())
