"""crnn-tune: CRNN-CTC CAPTCHA recognition, trained and tuned with Ray."""

__version__ = "0.1.0"
