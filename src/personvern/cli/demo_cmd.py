"""``personvern demo``: a synthetic service to try everything on, one per seed."""

from pathlib import Path
from typing import Annotated

import typer

from personvern.cli.common import emit
from personvern.cli.options import JsonOption, NowOption

app = typer.Typer(help="Create the demo service.", no_args_is_help=True)


@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the demo.")] = Path("demo"),
    subjects: Annotated[int, typer.Option(help="How many people the service has.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same people).")] = 7,
    force: Annotated[bool, typer.Option(help="Replace a demo already in DIR.")] = False,
    template: Annotated[str, typer.Option(
        help="Which seed's service to write: snapmentor (the default), vekstly, lillemini, "
             "minmentor or teoritentamen.")] = "snapmentor",
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Write the demo service's database, its manifest and the engine's database into DIR.

    Nothing is started. Every person is synthetic (Faker, Norwegian locale). The default
    template is a mentoring service with a manifest of its own; the other templates write
    the service a seed policy describes, with the seed's example manifest
    (examples/NAME.yaml) pointed at it. Without a configured master key a new one is
    written to DIR/master.key (mode 0600).
    """
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from personvern.clock import parse_now
    from personvern.demo.init import init_demo
    from personvern.errors import InvalidInput

    try:
        at = parse_now(now)()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"),
                  console=Console(stderr=True), disable=as_json or not sys.stderr.isatty(),
                  transient=True) as bar:
        task = bar.add_task("writing the demo service", total=None)
        files = init_demo(directory, subjects, now=at, seed=seed, force=force,
                          progress=lambda n: bar.advance(task, n), template=template)
    data = {"directory": files.directory, "manifest": files.manifest,
            "service_database": files.service_url, "engine_database": files.engine_url,
            "template": files.template, "rows": files.counts,
            "url_env": files.url_env,
            "master_key_file": str(files.key_file) if files.key_file else None}
    emit(data, as_json, [
        f"demo service written to {files.directory}",
        f"  manifest:        {files.manifest}",
        f"  service data:    {files.service_url}",
        f"  engine database: {files.engine_url}",
        *([f"  template:        {files.template}"] if files.template != "snapmentor" else []),
        "  rows: " + ", ".join(f"{k} {v:,}" for k, v in files.counts.items()),
        f"try: personvern check {files.manifest}",
        *([f"the example reads the same data with: export {files.url_env}={files.service_url}"]
          if files.template != "snapmentor" else []),
        *([f"master key written to {files.key_file}; before other commands run:",
           f"  export PERSONVERN_MASTER_KEY_FILE={files.key_file}"] if files.key_file else []),
    ])
