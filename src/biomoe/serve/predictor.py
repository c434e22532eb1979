"""Raw signal windows -> pain class probabilities: imaging, backbone, fusion and head in one object.

Training features and served features come from the same functions (``render_all``,
``embed_batch``, the saved ``FeatureLayout``) and the backbone runs on the engine the pipeline
embeds with (``biomoe.model.inference``), so serving cannot drift from training. Rows are
imaged and embedded ``batch_rows`` at a time: a request's memory grows with that, not with its
number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from torch import nn

from biomoe.classify.fusion import FeatureLayout
from biomoe.classify.heads import FittedHead
from biomoe.classify.train import load_classifier
from biomoe.embed.extract import embed_batch
from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.imaging.render import render_all
from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.inference import build_engine
from biomoe.serve.params import ServeParams
from biomoe.serve.precision import reduced_precision


class PainPredictor:
    def __init__(
        self,
        backbone: nn.Module,
        head: FittedHead,
        layout: FeatureLayout,
        image_params: ImageParams,
        fs: int,
        labels: Sequence[str],
        batch_rows: int = 16,
    ) -> None:
        self.backbone = backbone
        self.head = head
        self.layout = layout
        # only the representations the head reads are drawn
        self.image_params = image_params.model_copy(
            update={"representations": tuple(layout.representations)}
        )
        self.fs = fs
        self.labels = tuple(labels)
        self.batch_rows = batch_rows

    @classmethod
    def from_files(
        cls,
        backbone_path: Path,
        classifier_dir: Path,
        image_params: ImageParams,
        fs: int,
        serve: ServeParams,
    ) -> PainPredictor:
        """The predictor whose backbone runs on ``serve.engine`` at ``serve.precision``
        (``PrecisionError`` where the CPU lacks the instructions it needs)."""
        head, layout, card = load_classifier(classifier_dir)
        model = load_checkpoint(backbone_path, img_size=image_params.size)
        if serve.precision == "fp32":
            backbone = build_engine(model, serve.engine)
        else:
            backbone = reduced_precision(model, serve.precision, serve.engine)
        return cls(backbone, head, layout, image_params, fs, card["labels"], serve.batch_rows)

    def features(self, signals: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
        """``signals[modality]`` holds one 1-D window per sample; returns the fused features
        [n, d] (``FeatureLayout.assemble``): the embedding the head reads."""
        missing = [m for m in self.layout.modalities if m not in signals]
        if missing:
            raise DataError(
                f"input lacks modality columns {missing}; expected {list(self.layout.modalities)}"
            )
        rows = len(signals[self.layout.modalities[0]])
        return np.concatenate(
            [
                self._features(
                    {m: signals[m][start : start + self.batch_rows] for m in signals}, start
                )
                for start in range(0, rows, self.batch_rows)
            ]
        )

    def _features(self, signals: Mapping[str, Sequence[np.ndarray]], first: int) -> np.ndarray:
        """Features of rows ``first...``: every modality's images embedded as one batch."""
        images: list[np.ndarray] = []
        for modality in self.layout.modalities:
            windows = [np.asarray(w, dtype=np.float32).reshape(-1) for w in signals[modality]]
            for i, window in enumerate(windows):
                if np.isfinite(window).sum() < 2:
                    raise DataError(
                        "window has fewer than 2 finite samples",
                        segment=f"row {first + i}, {modality}",
                    )
            rendered = render_all(windows, self.fs, self.image_params)
            images.extend(rendered[rep] for rep in self.layout.representations)
        rows = images[0].shape[0]
        embedded = embed_batch(self.backbone, np.concatenate(images))  # blocks in layout order
        stacked = embedded.reshape(len(images), rows, -1).transpose(1, 0, 2)
        return self.layout.assemble(stacked)

    def predict_proba(self, signals: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
        """[n, classes] probabilities, rows summing to 1, in the order of ``labels``."""
        return self.head.predict_proba(self.features(signals))
