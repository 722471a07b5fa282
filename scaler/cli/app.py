"""The ``scaler`` command group and its entry point: user errors print one line and exit 2, never a traceback.

Each command lives in its own module and imports what it needs when it runs, so ``scaler --help``, ``info``,
``emit`` (without ``--export``), ``schema``, ``fit``, ``plot`` and ``report`` never load torch.
"""

from __future__ import annotations

import sys

import click

from scaler.api import ScalerError
from scaler.cli import bench, emit, export, fit, grid, info, plot, report, schema, study


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="scaler", prog_name="scaler")
def cli() -> None:
    """EfficientNet-style compound model scaling.

    \b
    Typical loop:
      scaler info specs/quickstart.yaml          # what the base costs
      scaler grid specs/quickstart.yaml          # search alpha, beta, gamma on real proxies
      scaler emit --phi 0..4                     # the scaled family, from the newest grid's coefficients
      scaler plot results/quickstart/results.csv # accuracy vs FLOPs, Pareto front
      scaler study results/quickstart            # the family against single-dimension scaling
      scaler report results/quickstart           # one HTML page of it all, for review
    """


for module in (info, emit, export, bench, schema, grid, fit, plot, study, report):
    cli.add_command(module.command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one line and exit 2, never a traceback."""
    try:
        rv = cli.main(args=argv, prog_name="scaler", standalone_mode=False)
    except ScalerError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort as e:  # click turns a KeyboardInterrupt (Ctrl-C) into Abort
        click.echo("interrupted" if isinstance(e.__cause__, KeyboardInterrupt) else "aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        where = e.ctx.command_path if isinstance(e, click.UsageError) and e.ctx else "scaler"
        hint = f" (see '{where} --help')" if isinstance(e, click.UsageError) else ""
        click.echo(f"error: {where}: {e.format_message()}{hint}".replace("\n", " "), err=True)
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
