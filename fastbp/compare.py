"""Benchmark fastbp against scikit-learn on a CSV file.

    python -m fastbp.compare data.csv --target COLUMN
        [--task auto|classification|regression] [--repeats N]
        [--param hidden_layer_sizes=64,64 --param max_iter=50 ...]
        [--plot out.png] [--no-progress]

Every column but ``--target`` is a numeric feature.  ``--param`` values are
read as ints, floats, tuples ("64,64" or "(64,)"), True/False/None, or else
strings.  The table goes to stdout, progress to stderr (only on a terminal,
unless ``--no-progress``); bad input exits with status 2 and one error line.
See ``fastbp.compare`` (the function, in ``fastbp._compare``) for what is
measured.

Why this module is callable
---------------------------
``fastbp.compare`` is both a function (``fastbp.compare(X, y)``) and this
module (``python -m fastbp.compare``).  ``fastbp/__init__.py`` binds the
function and never imports this module: if it did, ``python -m`` would find
the module already imported and runpy would warn (RuntimeWarning) that it
may behave unpredictably.  But any explicit ``import fastbp.compare`` makes
the import system set the package attribute ``fastbp.compare`` to this module,
replacing the function.  So this module's class becomes a ``ModuleType``
subclass whose ``__call__`` is the function: ``fastbp.compare(X, y, ...)``
does the same whichever of the two the name holds, with no import hooks and
no change to the package's import-time behaviour.  (The alternatives were
worse: a different command name breaks the issue's ``python -m
fastbp.compare``; a package ``__setattr__`` that refuses the submodule fights
the import system.)  ``inspect.signature`` follows ``__signature__`` to the
function's signature; ``help()`` shows this page.
"""

import argparse
import inspect
import sys
import types

from fastbp import _compare
from fastbp._compare import CompareResult, compare

__all__ = ["CompareResult", "compare", "main"]


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m fastbp.compare",
        description="Fit fastbp's and scikit-learn's MLP with the same parameters "
        "and random_state on a CSV file; print fit times (compile time "
        "excluded), speed-up, training scores, epochs and the largest weight "
        "difference.",
        epilog="example: python -m fastbp.compare data.csv --target price "
        "--param hidden_layer_sizes=64,64 --param max_iter=50 --plot compare.png",
    )
    parser.add_argument("data", help="CSV file with a header row")
    parser.add_argument("--target", required=True, help="the target column's name")
    parser.add_argument("--task", choices=_compare.TASKS, default="auto")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an MLP parameter for both libraries (repeatable); "
        "random_state defaults to 0",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed fits per library (default 3)"
    )
    parser.add_argument(
        "--plot", metavar="OUT.png", help="draw the loss curves and fit times"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress on stderr"
    )
    return parser


def main(argv=None):
    """Run the command with ``argv`` (default: sys.argv[1:]); return 0."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result = _compare.main_result(
            args.data,
            args.target,
            task=args.task,
            repeats=args.repeats,
            params=_compare.parse_params(args.param),
            plot=args.plot,
            progress=False if args.no_progress else "auto",
        )
    except (ValueError, TypeError, ImportError, OSError) as error:
        parser.error(str(error))  # exits with status 2
    print(result)
    if args.plot is not None:
        print(f"plot written to {args.plot}")
    return 0


class _CallableModule(types.ModuleType):
    """This module, callable as ``fastbp.compare(X, y, ...)``."""

    def __call__(self, *args, **kwargs):
        return compare(*args, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
else:
    __signature__ = inspect.signature(compare)
    sys.modules[__name__].__class__ = _CallableModule
