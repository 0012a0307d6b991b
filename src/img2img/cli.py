"""The ``img2img`` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from img2img.inference.config import TRANSLATE_BATCH
from img2img.inference.demo import DEFAULT_HOST, DEFAULT_PORT, EXAMPLE_FOLDERS, MAX_UPLOAD_MB
from img2img.ingest.images import ImageLimits

TRANSLATE_SCRATCH = ".img2img-tmp"  # inside OUTPUT: the temporaries of a running translate


@click.group()
def main() -> None:
    """img2img: paired image-to-image translation."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model", required=True,
              help="MLflow model URI (models:/img2img-generator@champion) or an export file (generator.pt2)")  # fmt: skip
@click.option("--output", "output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them)")
@click.option(
    "--batch-size", default=TRANSLATE_BATCH, show_default=True, type=click.IntRange(min=1),
    help="Images decoded and translated at once (memory: about 2 x this x max pixels x 3 bytes)",
)  # fmt: skip
@click.option("--max-pixels", default=ImageLimits.max_pixels, show_default=True,
              type=click.IntRange(min=1),
              help="Largest image accepted, in pixels (decompression-bomb guard; as ingestion)")  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
def translate(inputs, model, output, overwrite, batch_size, max_pixels, device) -> None:
    """Translate image files or folders INPUTS with a packaged model into OUTPUT (PNG, same names).

    Inputs whose outputs would share a name (a.jpg and a.png) are refused, not translated.

    \b
    Exit status:
      0  every input was translated, or skipped because its output exists
      1  any input failed (unreadable, too large, name clash, no images in a
         folder, not written) or does not exist; or the model cannot be loaded
      2  usage error (bad or missing option)
    """
    from img2img.gan.runtime import select_device
    from img2img.inference.files import translate_files
    from img2img.inference.model import load_translator

    try:
        translator = load_translator(model, str(select_device(device)), batch_size)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _use_scratch_in(output)
    outcomes = translate_files(
        inputs, translator, output, overwrite=overwrite, batch_size=batch_size,
        limits=ImageLimits(min_size=1, max_pixels=max_pixels), pixel_limit_name="--max-pixels",
    )  # fmt: skip
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
    if counts["failed"]:
        sys.exit(1)


def _use_scratch_in(output: Path) -> None:
    """Temporaries in ``OUTPUT/.img2img-tmp`` (same file system: renames stay atomic); what a
    killed translate left there is removed now, the folder itself when this run ends empty."""
    import atexit

    from img2img.scratch import release, sweep, use_scratch_root

    def remove_when_empty() -> None:
        release()
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()

    root = use_scratch_root(output / TRANSLATE_SCRATCH)
    sweep(root)
    atexit.register(remove_when_empty)


@main.command()
@click.option("--model", "model", default=None,
              help="MLflow model URI or an export file (generator.pt2)  [default: the registry's "
                   "champion, models:/img2img-generator@champion]")  # fmt: skip
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on (another than 127.0.0.1 lets other machines in)")  # fmt: skip
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free one)")  # fmt: skip
@click.option("--examples", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of example images, or a tensor cache  [default: the first of "
                   f"{', '.join(map(str, EXAMPLE_FOLDERS))} that exists]")  # fmt: skip
@click.option("--max-pixels", default=ImageLimits.max_pixels, show_default=True,
              type=click.IntRange(min=1),
              help="Largest image accepted, in pixels (decompression-bomb guard; as ingestion)")  # fmt: skip
@click.option("--max-upload-mb", default=MAX_UPLOAD_MB, show_default=True, type=click.IntRange(min=1),
              help="Largest upload accepted, in MiB")  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
def demo(model, host, port, examples, max_pixels, max_upload_mb, device) -> None:
    """Serve a page to try a model: upload an image or pick an example, see source | translation.

    \b
    Exit status:
      1  the model (by default the registry's champion) or the examples cannot be
         loaded, or the address is in use
      2  usage error (bad option)
    """
    from img2img.gan.runtime import select_device
    from img2img.inference.demo import (
        Demo,
        DemoServer,
        UploadLimits,
        load_demo_model,
        load_examples,
    )

    limits = UploadLimits(ImageLimits(min_size=1, max_pixels=max_pixels), max_upload_mb * 2**20)
    try:
        found = load_examples(examples, limits.pixels)
        translator, loaded = load_demo_model(model, str(select_device(device)))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        server = DemoServer((host, port), Demo(translator, loaded, found, limits))
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    click.echo(f"img2img demo of {loaded} with {len(found)} examples: {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command("resolve-params")
@click.option("--env", default=None, help="Kedro environment (default: $KEDRO_ENV, else local)")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Default: conf/resolved_parameters.yml")  # fmt: skip
@click.option("--project-path", default=".", show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path))  # fmt: skip
def resolve_params(env, output, project_path) -> None:
    """Write the parameters `kedro run` uses (an environment merged over base) for DVC to track."""
    from img2img.project_config import SNAPSHOT, write_parameters_snapshot

    path = write_parameters_snapshot(project_path, env, output or SNAPSHOT)
    click.echo(f"parameters -> {path}")


@main.command("retrain-report")
@click.option(
    "--base-rev", default="HEAD", show_default=True, help="Revision to compare metrics with"
)
@click.option(
    "--env", default="base", show_default=True, help="Configuration environment, for the record"
)
@click.option("-o", "--output", default="data/08_reporting/retrain_report.md", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path))  # fmt: skip
def retrain_report(base_rev, env, output) -> None:
    """Write the scheduled retraining's report (gate decision, metrics diff, sample grid)."""
    from img2img.packaging.retrain_report import write_retrain_report

    click.echo(f"report -> {write_retrain_report(output, base_rev, env)}")


@main.group()
def kubeflow() -> None:
    """Run Kedro pipelines on Kubeflow Pipelines (KFP v2): compile, schedule."""


@kubeflow.command("compile")
@click.option("--pipeline", "pipeline", default="__default__", show_default=True,
              help="Registered Kedro pipeline")  # fmt: skip
@click.option("--env", "env", default="kubeflow", show_default=True,
              help="Configuration environment resolved now and passed to `kedro run` in every task")  # fmt: skip
@click.option("--image", default=None, help="Container image (default: `image` in kubeflow.yml)")
@click.option("-o", "--output", default="pipeline.yaml", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path))  # fmt: skip
@click.option("--gpus", type=click.IntRange(min=0), default=None,
              help="Accelerators per GPU task (kubeflow.yml gpu.count; 0: none)")  # fmt: skip
@click.option("--gpu-type", default=None,
              help="Accelerator type, e.g. nvidia.com/gpu or NVIDIA_TESLA_T4 (kubeflow.yml gpu.type)")  # fmt: skip
@click.option(
    "--pvc", default=None, help="Shared data volume claim (kubeflow.yml shared_volume.pvc_name)"
)
@click.option("--mount-path", default=None,
              help="Where the volume is mounted: the image's data/ folder (kubeflow.yml shared_volume.mount_path)")  # fmt: skip
@click.option("--project-path", default=".", show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path))  # fmt: skip
def kubeflow_compile(pipeline, env, image, output, gpus, gpu_type, pvc, mount_path, project_path):
    """Compile a Kedro pipeline into a KFP v2 pipeline YAML: one task per node."""
    from img2img.kubeflow import CrossPodDatasetError, KubeflowConfigError, compile_pipeline

    overrides: dict = {}
    if gpus is not None or gpu_type is not None:
        overrides["gpu"] = {k: v for k, v in (("count", gpus), ("type", gpu_type)) if v is not None}
    if pvc is not None or mount_path is not None:
        overrides["shared_volume"] = {
            k: v for k, v in (("pvc_name", pvc), ("mount_path", mount_path)) if v is not None
        }
    try:
        result = compile_pipeline(
            project_path, pipeline, env, output, image=image, overrides=overrides
        )
    except (CrossPodDatasetError, KubeflowConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{result.kfp_name}: {len(result.graph.tasks)} tasks, {len(result.graph.edges)} edges "
        f"-> {result.path}"
    )
    for task in result.graph.tasks:
        flags = [f for f, on in (("cached", task.name in result.cached),
                                 ("gpu", task.name in result.gpu_tasks)) if on]  # fmt: skip
        after = ", ".join(result.graph.upstream(task.name)) or "-"
        click.echo(
            f"  {task.name:<24} after: {after}" + (f"  [{', '.join(flags)}]" if flags else "")
        )


@kubeflow.command("schedule")
@click.option(
    "--host", required=True, help="Kubeflow Pipelines API URL, e.g. http://localhost:8080"
)
@click.option("--package", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Compiled pipeline YAML (img2img kubeflow compile)")  # fmt: skip
@click.option("--cron", default="0 3 * * 1", show_default=True,
              help="Cron expression (5 fields, or 6 with seconds first)")  # fmt: skip
@click.option("--experiment", default="img2img", show_default=True)
@click.option("--name", default=None, help="Recurring run name (default: <package>-recurring)")
@click.option("--namespace", default=None, help="Kubeflow profile namespace (multi-user)")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Pipeline parameter, e.g. data_version=v2 (repeatable)")  # fmt: skip
@click.option("--caching/--no-caching", default=False, show_default=True,
              help="Keep the compiled caching (data_processing cached) or re-run every task")  # fmt: skip
@click.option("--timeout", default=10.0, show_default=True, type=float,
              help="Seconds to wait for the server to answer")  # fmt: skip
def kubeflow_schedule(host, package, cron, experiment, name, namespace, params, caching, timeout):
    """Create a recurring run (weekly by default) of a compiled pipeline on a KFP server."""
    from img2img.kubeflow import ScheduleError, schedule_recurring_run

    parsed = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        parsed[key] = value
    try:
        run = schedule_recurring_run(
            host, package, cron=cron, experiment=experiment, name=name, namespace=namespace,
            params=parsed, enable_caching=None if caching else False, connect_timeout=timeout,
        )  # fmt: skip
    except ScheduleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"recurring run {run.recurring_run_id} (cron '{run.cron}') in experiment {run.experiment_id}"
    )


# Kedro loads `<package>.cli:cli` as the project's own command group (so `kedro translate` works too).
cli = main

if __name__ == "__main__":
    main()
