"""`deepspec <command>`: the drafter pipeline, one command per step. Each command is a module with
`add_arguments(parser)` and `run(args) -> int` (deepspec/cli/<command>.py; export and import live
with the layouts they write, in deepspec/export/cli.py); the library never imports from here."""
from __future__ import annotations

import sys

from dspark.cli import run_commands

# command -> (module, one-line help)
COMMANDS = {
    "prompts": ("deepspec.cli.prompts", "build the training prompt set (offline sources, disjoint from eval sets)"),
    "regenerate": ("deepspec.cli.regenerate", "regenerate assistant answers with the target"),
    "cache": ("deepspec.cli.cache", "precompute target features into a sharded cache"),
    "train": ("deepspec.cli.train", "train a drafter from a TOML config"),
    "plot-train": ("deepspec.cli.plot_train", "plot training curves (acceptance, simulated tau; train and held-out)"),
    "eval": ("deepspec.cli.eval", "speculative decoding on benchmark prompts: tau, acceptance, calibration"),
    "calibrate": ("deepspec.cli.calibrate", "fit sequential temperature scaling for a confidence head"),
    "export": ("deepspec.export.cli", "write a drafter in another engine's layout"),
    "import": ("deepspec.export.cli", "read a drafter from another engine's layout"),
}

DESCRIPTION = "DeepSpec: make drafters for DSpark (prompts, regeneration, features, training, evaluation, export)."
EPILOG = ("The pipeline, in order: prompts -> regenerate -> cache -> train -> eval -> calibrate -> export. "
          "'deepspec COMMAND --help' shows a command's options.")


def main(argv: list[str] | None = None) -> int:
    return run_commands("deepspec", DESCRIPTION, COMMANDS, argv, epilog=EPILOG)


if __name__ == "__main__":
    sys.exit(main())
