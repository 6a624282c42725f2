"""DSpark: lossless speculative decoding with a semi-autoregressive drafter and a
confidence-aware verification scheduler."""
__version__ = "0.1.0"

import os

# Set before torch starts its OpenMP pool (import dspark before torch): idle OpenMP threads sleep
# instead of spinning. On a machine whose cores other work shares, spinning threads fight for cores
# they do not get (2 threads decoded 10x slower than 1), and they steal cycles from the runtime's
# own pool (models/qkernels.c), which does the heavy work; a quiet machine loses nothing
# (RESULTS.md, "Threads on a busy machine"). Set OMP_WAIT_POLICY yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
