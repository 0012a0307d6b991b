"""The ``img2img`` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click


@click.group()
def main() -> None:
    """img2img: paired image-to-image translation."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model", required=True,
              help="MLflow model URI (models:/img2img-generator@champion) or an exported TorchScript file")  # fmt: skip
@click.option("--output", "output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them)")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
def translate(inputs, model, output, overwrite, batch_size, device) -> None:
    """Translate image files or folders INPUTS with a packaged model into OUTPUT (PNG, same names)."""
    from img2img.gan import select_device
    from img2img.inference import load_translator, translate_files

    try:
        translator = load_translator(model, str(select_device(device)), batch_size)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    outcomes = translate_files(inputs, translator, output, overwrite=overwrite)
    counts = {
        status: sum(o.status == status for o in outcomes)
        for status in ("translated", "skipped", "failed")
    }
    click.echo(
        f"{counts['translated']} translated, {counts['skipped']} skipped, {counts['failed']} failed -> {output}"
    )
    for outcome in outcomes:
        if outcome.status != "translated":
            click.echo(f"  {outcome.status}: {outcome.input}: {outcome.reason}", err=True)
    if counts["translated"] == 0 and counts["failed"]:
        sys.exit(1)


# Kedro loads `<package>.cli:cli` as the project's own command group (so `kedro translate` works too).
cli = main

if __name__ == "__main__":
    main()
