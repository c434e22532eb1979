"""Raw signal windows -> pain class probabilities: imaging, backbone, fusion and head in one object.

Training features and served features come from the same functions (``render_all``,
``embed_batch``, the saved ``FeatureLayout``), so serving cannot drift from training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from biomoe.classify.fusion import FeatureLayout
from biomoe.classify.heads import FittedHead
from biomoe.classify.train import load_classifier
from biomoe.embed.extract import embed_batch
from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.imaging.render import render_all
from biomoe.model.inference import load_engine
from biomoe.model.tiny_biomoe import TinyBioMoE


class PainPredictor:
    def __init__(
        self,
        backbone: TinyBioMoE,
        head: FittedHead,
        layout: FeatureLayout,
        image_params: ImageParams,
        fs: int,
        labels: Sequence[str],
    ) -> None:
        self.backbone = backbone.eval()
        self.head = head
        self.layout = layout
        self.image_params = image_params
        self.fs = fs
        self.labels = tuple(labels)

    @classmethod
    def from_files(
        cls, backbone_path: Path, classifier_dir: Path, image_params: ImageParams, fs: int
    ) -> PainPredictor:
        head, layout, card = load_classifier(classifier_dir)
        backbone = load_engine(backbone_path, "eager", image_params.size)
        return cls(backbone, head, layout, image_params, fs, card["labels"])

    def features(self, signals: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
        """``signals[modality]`` holds one 1-D window per sample; returns the fused features
        [n, d] (``FeatureLayout.assemble``)."""
        missing = [m for m in self.layout.modalities if m not in signals]
        if missing:
            raise DataError(
                f"input lacks modality columns {missing}; expected {list(self.layout.modalities)}"
            )
        blocks: dict[tuple[str, str], np.ndarray] = {}
        for modality in self.layout.modalities:
            windows = [np.asarray(w, dtype=np.float32).reshape(-1) for w in signals[modality]]
            for i, window in enumerate(windows):
                if np.isfinite(window).sum() < 2:
                    raise DataError(
                        "window has fewer than 2 finite samples", segment=f"row {i}, {modality}"
                    )
            images = render_all(windows, self.fs, self.image_params)
            for rep in self.layout.representations:
                blocks[(modality, rep)] = embed_batch(self.backbone, images[rep])
        stacked = np.stack([blocks[b] for b in self.layout.blocks], axis=1)
        return self.layout.assemble(stacked)

    def predict_proba(self, signals: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
        """[n, classes] probabilities, rows summing to 1, in the order of ``labels``."""
        return self.head.predict_proba(self.features(signals))
