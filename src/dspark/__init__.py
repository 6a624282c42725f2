"""DSpark: lossless speculative decoding with a semi-autoregressive drafter and a
confidence-aware verification scheduler."""
__version__ = "0.1.0"
