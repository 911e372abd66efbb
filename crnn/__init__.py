"""crnn-tune: CRNN-CTC CAPTCHA recognition, trained and tuned with Ray.

The Python API (``crnn.api``), loaded on first use so that ``import crnn`` stays light::

    import crnn
    model = crnn.load_model("results/captcha-36x5")
    model.predict("captchas/")  # [Prediction(text, confidence, source), ...]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Model", "Prediction", "__version__", "assess", "evaluate", "load_model", "synthesize", "train"]

if TYPE_CHECKING:
    from crnn.api import Model, Prediction, assess, evaluate, load_model, synthesize, train


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "__version__":
        from crnn import api  # noqa: PLC0415 - `import crnn` stays light: the facade loads on first use

        return getattr(api, name)
    raise AttributeError(f"module 'crnn' has no attribute {name!r}")
