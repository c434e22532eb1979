"""The results table as people read it: markdown, and a PNG of macro-F1 with its intervals."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from biomoe.classify.evaluate import GROUPS, Evaluation
from biomoe.data.params import PAIN_LABELS
from biomoe.io import atomic_path, write_json
from biomoe.plots import save_figure

COLOURS = dict(zip(GROUPS, ("tab:blue", "tab:green", "tab:purple", "tab:grey"), strict=True))


def _protocol(evaluation: Evaluation) -> str:
    return (
        f"protocol {evaluation.protocol} ({evaluation.n_folds} fold(s)), "
        f"{evaluation.n_samples} test samples of {evaluation.n_subjects} subjects, "
        f"{evaluation.confidence:.0%} subject-bootstrap intervals"
    )


def evaluation_markdown(evaluation: Evaluation) -> str:
    header = ["row", "group", "accuracy", "macro-F1", *(f"F1 {label}" for label in PAIN_LABELS)]
    lines = [
        f"Pain recognition: {_protocol(evaluation)}. * = the configured (registered) fusion.",
        "",
        "| " + " | ".join(header) + " |",
        "| --- | --- |" + " ---: |" * (len(header) - 2),
    ]
    for row in evaluation.rows:
        cells = [
            row.name + (" *" if row.configured else ""),
            row.group,
            *(
                f"{row.metrics[k]:.3f} [{row.intervals[k][0]:.3f}, {row.intervals[k][1]:.3f}]"
                for k in ("accuracy", "macro_f1")
            ),
            *(f"{row.metrics[f'f1_{label}']:.3f}" for label in PAIN_LABELS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(evaluation: Evaluation, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(evaluation_markdown(evaluation))


def save_evaluation_plot(evaluation: Evaluation, path: Path) -> None:
    """Horizontal bars of macro-F1 per row with interval whiskers, coloured by group."""
    rows = evaluation.rows
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.4))
    y = np.arange(len(rows))[::-1]
    values = np.array([row.metrics["macro_f1"] for row in rows])
    low = values - np.array([row.intervals["macro_f1"][0] for row in rows])
    high = np.array([row.intervals["macro_f1"][1] for row in rows]) - values
    ax.barh(y, values, color=[COLOURS[row.group] for row in rows], alpha=0.85)
    ax.errorbar(values, y, xerr=[low, high], fmt="none", ecolor="black", capsize=3)
    ax.axvline(1 / len(PAIN_LABELS), color="red", linestyle="--", linewidth=1, label="chance")
    ax.set_yticks(y, [row.name + (" *" if row.configured else "") for row in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro-F1")
    ax.set_title(textwrap.fill(_protocol(evaluation), 70), fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[g]) for g in GROUPS]
    ax.legend([*handles, ax.lines[0]], [*GROUPS, "chance"], fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def write_evaluation(evaluation: Evaluation, metrics: Path, report: Path, plot: Path) -> None:
    """The evaluate stage's outputs: the table as JSON (a DVC metric), markdown and a plot."""
    write_json(metrics, evaluation.as_dict())
    write_markdown(evaluation, report)
    save_evaluation_plot(evaluation, plot)


def tracked_metrics(evaluation: Evaluation) -> dict[str, float]:
    """What the evaluate stage logs to MLflow: each row's macro-F1 (``<row>.macro_f1``) and
    every metric of the configured fusion (``configured.<metric>``)."""
    logged = {}
    for row in evaluation.rows:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", row.name).strip("_")
        logged[f"{slug}.macro_f1"] = float(row.metrics["macro_f1"])
    configured = evaluation.configured.metrics
    return logged | {f"configured.{k}": float(v) for k, v in configured.items()}
