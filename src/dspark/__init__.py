"""DSpark: lossless speculative decoding with a semi-autoregressive drafter and a
confidence-aware verification scheduler."""
__version__ = "0.1.0"

import os

# Set before torch starts its OpenMP pool (import dspark before torch): idle OpenMP threads spin for
# at most ~20k rounds (tens of microseconds), then sleep. libgomp's default spins 15x longer: on a
# machine whose cores other work shares, spinning threads fight for cores they do not get (2
# threads decoded 10x slower than 1), and they steal cycles from the runtime's own thread pool
# (models/qkernels.c). Sleeping at once (OMP_WAIT_POLICY=PASSIVE) made the exact precision's many
# small parallel regions 1.7x slower. benchmarks/busy_machine.py and RESULTS.md ("Threads on a busy
# machine") measure it. Set OMP_WAIT_POLICY or GOMP_SPINCOUNT yourself to override.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "20000"
