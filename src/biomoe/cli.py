"""``biomoe`` command line: one command per stage; dvc.yaml stages call these."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from biomoe.config import ParamsError, load_params
from biomoe.errors import TRANSIENT_EXIT, BiomoeError, is_transient
from biomoe.numerics import configured, enter
from biomoe.paths import ProjectPaths
from biomoe.stages import PIPELINE, stage

if TYPE_CHECKING:
    from biomoe.registry.promote import Decision

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True, soft_wrap=True)

Root = Annotated[Path, typer.Option("--root", help="project root (holds params.yaml and data/)")]
ParamsFile = Annotated[
    Path | None, typer.Option("--params", help="parameter file [default: ROOT/params.yaml]")
]
TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        help="MLflow tracking URI [default: register.tracking_uri in params]",
    ),
]


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


@app.callback()
def _numerics() -> None:
    """Re-start under the numerics params.yaml asks for, before any command computes."""
    argv = sys.argv[1:]
    root = Path(_option(argv, "--root") or ".")
    params_file = _option(argv, "--params") or ProjectPaths.at(root).params
    try:
        enter(configured(params_file))
    except (BiomoeError, ParamsError, ValueError) as exc:
        console.print(f"[bold red]numerics[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc


def _run(name: str, root: Path, params_file: Path | None, **kwargs: object) -> None:
    """Run a stage; exit 1 on a pipeline error, :data:`TRANSIENT_EXIT` when a service it needs
    was unreachable (a retry may succeed: the Prefect flow retries on it)."""
    paths = ProjectPaths.at(root)
    try:
        params = load_params(params_file or paths.params)
        output = stage(name)(params, paths, **kwargs)
    except Exception as exc:
        if is_transient(exc):
            console.print(
                f"[bold red]{name} failed[/] (transient: a service was unreachable, a retry may "
                f"succeed): {escape(str(exc))}"
            )
            raise typer.Exit(code=TRANSIENT_EXIT) from exc
        if not isinstance(exc, BiomoeError | ParamsError):
            raise
        console.print(f"[bold red]{name} failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]{name}[/] -> {escape(str(output))}")


@app.command("demo-data")
def demo_data(root: Root = Path("."), params: ParamsFile = None) -> None:
    """Generate the deterministic demo dataset into data/raw (AI4PAIN 2025 layout)."""
    _run("demo_data", root, params)


@app.command("verify-data")
def verify_data(root: Root = Path(".")) -> None:
    """Check data/raw against data.dvc (after `demo-data` on a clone without a DVC remote)."""
    from biomoe.data.tracked import verify_tracked_data

    try:
        digest = verify_tracked_data(Path(root).resolve())
    except BiomoeError as exc:
        console.print(f"[bold red]verify-data failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]data/raw matches data.dvc[/] ({digest})")


def _stage_command(name: str, help_text: str) -> None:
    def command(
        root: Root = Path("."), params: ParamsFile = None, tracking_uri: TrackingUri = None
    ) -> None:
        _run(name, root, params, tracking_uri=tracking_uri)

    command.__doc__ = help_text
    app.command(name)(command)


_stage_command("ingest", "Read data/raw into the windows table data/interim/windows.parquet.")
_stage_command("validate", "Check the windows table with Great Expectations; exit 1 on failure.")
_stage_command("images", "Render every window as images into uint8 shards + index.")
_stage_command("corpus", "Build the pretraining corpus (simulated, packaged, user sources).")
_stage_command("embed", "Embed every image with the backbone (content-addressed cache).")
_stage_command("train", "Train the pain head on fused embeddings; write metrics and plots.")
_stage_command(
    "evaluate",
    "Results table (per modality, representation, fusion, baselines) under evaluate.protocol.",
)
_stage_command("register", "Register pain-classifier in MLflow and apply promotion rules.")


@app.command("pretrain")
def pretrain(
    root: Root = Path("."),
    params: ParamsFile = None,
    tracking_uri: TrackingUri = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from the last checkpoint")
    ] = False,
) -> None:
    """Multi-task pretraining of the backbone under torchrun (pretrain.nproc processes)."""
    _run("pretrain", root, params, tracking_uri=tracking_uri, resume=resume)


@app.command("run")
def run_all(
    root: Root = Path("."), params: ParamsFile = None, tracking_uri: TrackingUri = None
) -> None:
    """Every stage after data/raw, in order (without DVC or Prefect)."""
    for name in PIPELINE:
        _run(name, root, params, tracking_uri=tracking_uri)


@app.command("predict")
def predict(
    data: Annotated[
        Path | None,
        typer.Argument(help="AI4PAIN-layout data root or one split folder [default: data/raw]"),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="split folder of a data root")] = "test",
    out: Annotated[
        Path | None, typer.Option("--out", help="CSV to write [default: predictions/SPLIT.csv]")
    ] = None,
    model_uri: Annotated[
        str | None,
        typer.Option(
            "--model-uri", help="model to score with [default: models:/MODEL_NAME@champion]"
        ),
    ] = None,
    root: Root = Path("."),
    params: ParamsFile = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Score every sample of an AI4PAIN-layout folder with a registered pain-classifier."""
    from mlflow.exceptions import MlflowException

    from biomoe.registry.promote import CHAMPION
    from biomoe.registry.tracking import resolve_tracking_uri
    from biomoe.serve.batch import ServedModel, predict_folder

    paths = ProjectPaths.at(root)
    try:
        config = load_params(params or paths.params)
        uri = model_uri or f"models:/{config.register.model_name}@{CHAMPION}"
        store = resolve_tracking_uri(tracking_uri or config.register.tracking_uri, paths.root)
        served = ServedModel.load(uri, store)
        target = out or paths.root / "predictions" / f"{split}.csv"
        table = predict_folder(
            data or paths.raw,
            split,
            served,
            target,
            config.embed.batch_size,
            config.ingest.include_rest,
        )
    except (BiomoeError, ParamsError, MlflowException) as exc:
        console.print(f"[bold red]predict failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    version = f" (version {served.version})" if served.version else ""
    console.print(f"[green]predict[/] {len(table)} samples with {uri}{version} -> {target}")


def _registry_action(action: Callable[[], Decision], what: str) -> None:
    try:
        decision = action()
    except (BiomoeError, ParamsError) as exc:
        console.print(f"[bold red]{what} failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]{what}[/]: {escape(decision.reason)}")


@app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="pain-classifier version to make champion")],
    force: Annotated[
        bool, typer.Option("--force", help="skip the margin guard (recorded on the version)")
    ] = False,
    root: Root = Path("."),
    params: ParamsFile = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Make VERSION champion if it beats the champion by register.promotion.margin."""
    from biomoe.serve.manage import promote_by_hand

    paths = ProjectPaths.at(root)
    _registry_action(
        lambda: promote_by_hand(
            load_params(params or paths.params).register, paths, version, force, tracking_uri
        ),
        "promote",
    )


@app.command("rollback")
def rollback(
    to: Annotated[
        str | None, typer.Option("--to", help="version to restore [default: previous champion]")
    ] = None,
    root: Root = Path("."),
    params: ParamsFile = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Give champion back to the previous champion (or to --to VERSION)."""
    from biomoe.serve.manage import roll_back

    paths = ProjectPaths.at(root)
    _registry_action(
        lambda: roll_back(load_params(params or paths.params).register, paths, to, tracking_uri),
        "rollback",
    )


@app.command("verify")
def verify(
    against: Annotated[
        str, typer.Option("--against", help="git revision whose dvc.lock is the reference")
    ] = "HEAD",
    inputs: Annotated[
        bool,
        typer.Option(
            "--inputs", help="only check that dvc.lock records this checkout's code and params"
        ),
    ] = False,
    root: Root = Path("."),
) -> None:
    """After `dvc repro`: compare dvc.lock with the one committed at AGAINST, stage by stage,
    and name the first stage that diverged (exit 1 when any did). With --inputs (CI, a fresh
    clone with nothing built): check that dvc.lock was regenerated after the last change to
    code or params."""
    import subprocess

    import yaml

    from biomoe.lineage import divergences, stale, stale_inputs

    root = Path(root).resolve()
    if inputs:
        behind = stale_inputs(root)
        for line in behind:
            console.print(f"  {escape(line)}")
        if behind:
            console.print(
                "[bold red]verify[/]: dvc.lock does not record this checkout's code and params; "
                "regenerate it (make run in a fresh clone) and commit it"
            )
            raise typer.Exit(code=1)
        console.print("[green]verify[/]: dvc.lock records this checkout's code and params")
        return
    try:
        shown = subprocess.run(
            ["git", "show", f"{against}:dvc.lock"], cwd=root, capture_output=True, text=True
        )
        if shown.returncode != 0:
            raise BiomoeError(f"git show {against}:dvc.lock: {shown.stderr.strip()}")
        if not (root / "dvc.lock").is_file():
            raise BiomoeError(f"{root / 'dvc.lock'}: missing; run `dvc repro` first")
        behind = [name for name in PIPELINE if stale(root, name)]
        if behind:
            raise BiomoeError(
                f"dvc.lock does not describe this workspace ({', '.join(behind)} changed since "
                "it was written); run `dvc repro` first"
            )
        found = divergences(
            yaml.safe_load(shown.stdout), yaml.safe_load((root / "dvc.lock").read_text()), PIPELINE
        )
    except BiomoeError as exc:
        console.print(f"[bold red]verify failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    if not found:
        console.print(f"[green]verify[/]: every stage's outputs are identical to {against}'s lock")
        return
    for divergence in found:
        what = (
            f"other outputs from identical inputs: {', '.join(divergence.outputs)}"
            if divergence.machine_dependent
            else f"inputs differ: {', '.join(divergence.inputs[:6])}"
            + (f"; outputs differ: {', '.join(divergence.outputs)}" if divergence.outputs else "")
        )
        console.print(f"  {divergence.stage}: {escape(what)}")
    first = found[0]
    cause = (
        "this machine computed it differently (numerics: README, Exact reproduction)"
        if first.machine_dependent
        else f"its inputs are not {against}'s, so this run is not a reproduction of it"
    )
    console.print(f"[bold red]verify[/]: first divergence at stage {first.stage}: {cause}")
    raise typer.Exit(code=1)


@app.command("restore-data")
def restore_data(
    version: Annotated[str, typer.Argument(help="registered pain-classifier version")],
    root: Root = Path("."),
    params: ParamsFile = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Check out data/raw exactly as VERSION was trained on it (its dvc_data_md5 tag)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from biomoe.data.tracked import restore_data as restore
    from biomoe.registry.tracking import resolve_tracking_uri

    paths = ProjectPaths.at(root)
    try:
        register = load_params(params or paths.params).register
        store = resolve_tracking_uri(tracking_uri or register.tracking_uri, paths.root)
        tags = MlflowClient(store).get_model_version(register.model_name, version).tags
        if tags.get("dvc_data_md5", "unknown") == "unknown":
            raise BiomoeError(
                f"{register.model_name} version {version} has no dvc_data_md5 tag "
                "(registered before its data was versioned)"
            )
        folder = restore(paths.root, tags["dvc_data_md5"])
    except (BiomoeError, ParamsError, MlflowException) as exc:
        console.print(f"[bold red]restore-data failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    console.print(
        f"[green]restore-data[/]: {escape(str(folder))} is the data of version {version} "
        f"({tags['dvc_data_md5']}; data.dvc records it)"
    )


@app.command("representations")
def representations(
    windows: Annotated[Path, typer.Argument(help="windows table (parquet), as ingest writes")],
    out: Annotated[Path, typer.Argument(help="PNG to write")],
    root: Root = Path("."),
    params: ParamsFile = None,
) -> None:
    """The README's picture: one sample's windows in every representation (images params)."""
    from biomoe.data.windows import read_windows
    from biomoe.imaging.grid import save_representation_grid

    paths = ProjectPaths.at(root)
    try:
        images = load_params(params or paths.params).images
        written = save_representation_grid(read_windows(windows), images, out)
    except (BiomoeError, ParamsError) as exc:
        console.print(f"[bold red]representations failed[/]: {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]representations[/] -> {escape(str(written))}")


if __name__ == "__main__":
    app()
