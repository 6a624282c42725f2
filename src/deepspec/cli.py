"""`deepspec <command>`: each command lives in its own module, which provides
`add_arguments(parser)` and `run(args) -> int`."""
from __future__ import annotations

import argparse
import importlib
import sys

from dspark.errors import DSparkError

# command -> (module, one-line help)
COMMANDS = {
    "prompts": ("deepspec.data.prompts", "build the training prompt set (offline sources, disjoint from eval sets)"),
    "regenerate": ("deepspec.data.regenerate", "regenerate assistant answers with the target"),
    "cache": ("deepspec.data.feature_cache", "precompute target features into a sharded cache"),
    "train": ("deepspec.train.trainer", "train a drafter from a TOML config"),
    "eval": ("deepspec.eval.evaluate", "speculative decoding on benchmark prompts: tau, acceptance, calibration"),
    "calibrate": ("deepspec.eval.calibration", "fit sequential temperature scaling for a confidence head"),
    "export": ("deepspec.export.formats", "write a drafter in another engine's layout"),
    "import": ("deepspec.export.formats", "read a drafter from another engine's layout"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepspec", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        if name == wanted:  # import only the module of the command being run
            mod = importlib.import_module(module)
            (getattr(mod, f"add_{name}_arguments", None) or mod.add_arguments)(p)
            p.set_defaults(_run=getattr(mod, f"run_{name}", None) or mod.run)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except DSparkError as e:
        print(f"deepspec {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
