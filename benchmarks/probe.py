"""Does pretraining buy anything? Linear and MLP probes on frozen embeddings, random vs pretrained.

    python benchmarks/probe.py --root .     # after `make run` (needs data/ and models/backbone/)
    python benchmarks/probe.py --root . --backbone longer=/path/model.pth   # more backbones

For each held-out task the same windows are rendered once, embedded by each backbone, and probed
with a logistic regression (linear probe) and the pipeline's MLP head, trained on the task's train
split and scored on its held-out split (macro-F1). Tasks: the demo pain data (all modalities fused,
and each modality alone: pretraining is said to help weak modalities most) and an external dataset
read through the corpus format readers (default: UCR GunPoint, the ``.ts`` files sktime installs;
not in the pretraining corpus), each case resampled to the pain data's rate. Prints a markdown
table.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from biomoe.classify.heads import fit_head
from biomoe.classify.train import predict_labels
from biomoe.config import PAIN_LABELS, Params, load_params
from biomoe.data.readers import ReadSpec, read_recordings
from biomoe.data.windowing import resample
from biomoe.data.windows import read_windows
from biomoe.embed.extract import embed_batch
from biomoe.imaging import render_all
from biomoe.model import TinyBioMoE, load_checkpoint
from biomoe.model.inference import optimize_for_inference

Probe = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ProbeTask:
    """``windows[i]`` lists the rows (of its probe set's windows) fused into sample ``i``;
    ``representation`` keeps one representation's embedding of each (all when None)."""

    name: str
    windows: np.ndarray
    labels: np.ndarray
    is_train: np.ndarray
    representation: int | None = None


@dataclass(frozen=True)
class ProbeSet:
    """Windows embedded once per backbone, and the tasks probed on them."""

    signals: list[np.ndarray]
    fs: list[int]
    tasks: list[ProbeTask]


def pain_set(params: Params, root: Path, per_representation: bool = False) -> ProbeSet:
    windows = read_windows(root / "data/interim/windows.parquet")
    keep = windows["split"].isin(["train", "validation"]) & windows["label"].isin(PAIN_LABELS)
    windows = windows[keep].sort_values(["sample_id", "modality"], kind="stable")
    windows = windows.reset_index(drop=True)
    samples = windows.drop_duplicates("sample_id").reset_index(drop=True)
    labels = samples["label"].map({c: i for i, c in enumerate(PAIN_LABELS)}).to_numpy()
    is_train = (samples["split"] == "train").to_numpy()
    pairs = zip(windows["sample_id"], windows["modality"], strict=True)
    row_of = {pair: i for i, pair in enumerate(pairs)}

    def task(name: str, modalities: tuple[str, ...]) -> ProbeTask:
        rows = [[row_of[(s, m)] for m in modalities] for s in samples["sample_id"]]
        return ProbeTask(name, np.array(rows), labels, is_train)

    modalities = tuple(params.ingest.modalities)
    tasks = [task("pain: all modalities", modalities)]
    tasks += [task(f"pain: {m} only", (m,)) for m in modalities]
    if per_representation:
        for m in modalities:
            for i, rep in enumerate(params.images.representations):
                whole = task(f"pain: {m}, {rep} only", (m,))
                tasks.append(ProbeTask(whole.name, whole.windows, labels, is_train, i))
    return ProbeSet(list(windows["signal"]), [int(f) for f in windows["fs"]], tasks)


def external_set(train: Path, test: Path, read: ReadSpec, fs_out: int, name: str) -> ProbeSet:
    """A labelled train/test pair of files in any reader format, one case one sample (its
    channels fused like the pain modalities); cases are resampled to ``fs_out``."""
    signals: list[np.ndarray] = []
    cases: dict[tuple[str, str], list[int]] = {}
    case_labels: dict[tuple[str, str], str] = {}
    for path in (train, test):
        for rec in read_recordings(path, read):
            key = (rec.source_file, rec.record)
            cases.setdefault(key, []).append(len(signals))
            case_labels[key] = str(rec.label)
            signals.append(resample(rec.signal, rec.fs, fs_out).astype(np.float32))
    classes = sorted(set(case_labels.values()))
    labels = np.array([classes.index(case_labels[key]) for key in cases])
    is_train = np.array([source == str(train) for source, _ in cases])
    rows = np.array(list(cases.values()))
    task = ProbeTask(f"{name} ({len(classes)} classes)", rows, labels, is_train)
    return ProbeSet(signals, [fs_out] * len(signals), [task])


def gunpoint_files() -> tuple[Path, Path] | None:
    """UCR GunPoint as sktime installs it (30 Hz video tracking, 150 samples a case)."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/GunPoint"
    files = (folder / "GunPoint_TRAIN.ts", folder / "GunPoint_TEST.ts")
    return files if all(f.is_file() for f in files) else None


def window_features(
    probe_set: ProbeSet, model: torch.nn.Module, params: Params, batch: int = 32
) -> np.ndarray:
    """Per window: its embeddings in every representation, concatenated."""
    images = render_all(probe_set.signals, probe_set.fs, params.images)
    blocks = []
    for rep in params.images.representations:
        rendered = images[rep]
        parts = [
            embed_batch(model, rendered[i : i + batch]) for i in range(0, len(rendered), batch)
        ]
        blocks.append(np.concatenate(parts))
    return np.concatenate(blocks, axis=1)


def linear_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
    )
    return model.fit(x_train, y_train).predict(x_test)


def mlp_probe(params: Params) -> Probe:
    """The pipeline's MLP head for ``mlp.max_epochs`` (no early stopping: probes have no
    subjects to hold out)."""
    train = params.train.model_copy(
        update={"head": "mlp", "mlp": params.train.mlp.model_copy(update={"patience": 0})}
    )

    def probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        n_classes = int(y_train.max()) + 1
        head, _ = fit_head(x_train, y_train, np.arange(len(y_train)), train, n_classes)
        return predict_labels(head, x_test)

    return probe


def effective_dims(x: np.ndarray) -> float:
    """Participation ratio of the features' covariance spectrum, (sum l)^2 / sum l^2: about how
    many directions the samples spread along (a collapsed embedding scores near 1)."""
    eigenvalues = np.clip(np.linalg.eigvalsh(np.cov(x, rowvar=False)), 0.0, None)
    return float(eigenvalues.sum() ** 2 / max((eigenvalues**2).sum(), 1e-30))


def probe_table(
    probe_sets: list[ProbeSet], backbones: dict[str, torch.nn.Module], params: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Macro-F1 per task and probe/backbone, and each task's features' effective dimensions."""
    probes: dict[str, Probe] = {"linear": linear_probe, "MLP": mlp_probe(params)}
    rows, dims = [], []
    for probe_set in probe_sets:
        for backbone_name, model in backbones.items():
            per_window = window_features(probe_set, model, params)
            for task in probe_set.tasks:
                x = per_window[task.windows]
                if task.representation is not None:
                    dim = x.shape[-1] // len(params.images.representations)
                    x = x[..., task.representation * dim : (task.representation + 1) * dim]
                x = x.reshape(len(task.windows), -1)
                dims.append((task.name, backbone_name, effective_dims(x)))
                train, test = task.is_train, ~task.is_train
                for probe_name, probe in probes.items():
                    pred = probe(x[train], task.labels[train], x[test])
                    score = f1_score(task.labels[test], pred, average="macro")
                    rows.append((task.name, f"{probe_name} / {backbone_name}", score))
    scores = pd.DataFrame(rows, columns=["task", "probe / backbone", "macro_f1"])
    spread = pd.DataFrame(dims, columns=["task", "backbone", "effective_dims"])
    return (
        scores.pivot_table(index="task", columns="probe / backbone", values="macro_f1", sort=False),
        spread.pivot_table(index="task", columns="backbone", values="effective_dims", sort=False),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument(
        "--backbone",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another published-format checkpoint to probe (repeatable)",
    )
    parser.add_argument(
        "--external",
        nargs=2,
        type=Path,
        metavar=("TRAIN", "TEST"),
        help="labelled train and test files of an external dataset [default: UCR GunPoint]",
    )
    parser.add_argument("--external-format", default="ts", help="a corpus reader format")
    parser.add_argument("--external-fs", type=float, default=30.0, help="its sampling rate")
    parser.add_argument(
        "--per-representation",
        action="store_true",
        help="also probe each modality's representations one at a time",
    )
    args = parser.parse_args()
    params = load_params(args.root / "params.yaml")
    torch.manual_seed(params.pretrain.seed)
    size = params.model.img_size
    backbones = {
        "random init": TinyBioMoE(img_size=size).eval(),
        "pretrained": load_checkpoint(args.root / "models/backbone/model.pth", size),
    }
    for item in args.backbone:
        name, _, path = item.partition("=")
        backbones[name] = load_checkpoint(Path(path), size)
    backbones = {name: optimize_for_inference(model) for name, model in backbones.items()}

    probe_sets = [pain_set(params, args.root, args.per_representation)]
    external = tuple(args.external) if args.external else gunpoint_files()
    if external is None:
        print("no external dataset: sktime's GunPoint is not installed and --external not given")
    else:
        name = "GunPoint" if args.external is None else external[0].stem
        read = ReadSpec(args.external_format, fs=args.external_fs)
        probe_sets.append(external_set(*external, read, params.ingest.fs, name))
    scores, spread = probe_table(probe_sets, backbones, params)
    print("macro-F1 on the held-out split\n")
    print(scores.round(3).to_markdown())
    print("\neffective dimensions of the probed features (participation ratio)\n")
    print(spread.round(1).to_markdown())


if __name__ == "__main__":
    main()
