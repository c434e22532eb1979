"""A content-addressed embedding store: one folder per backbone, append-only part files.

Each part is a structured ``.npy`` array of (image sha256, float32[192]) written atomically, so
an interrupted run loses at most the part it was writing and never corrupts earlier ones. A part
that does not load as such an array (damaged on disk) is not trusted: its keys count as missing
and are computed again, and the new part replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from biomoe.io import atomic_path
from biomoe.model.spec import EMBED_DIM

RECORD = np.dtype([("key", "S64"), ("vector", "<f4", (EMBED_DIM,))])


class EmbeddingCache:
    def __init__(self, root: Path, backbone_sha256: str) -> None:
        self.folder = root / backbone_sha256[:16]
        self.backbone_sha256 = backbone_sha256
        self._vectors: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            for part in sorted(self.folder.glob("part-*.npy")):
                try:
                    records = np.load(part, allow_pickle=False)
                except (ValueError, OSError, EOFError):
                    continue
                if records.dtype != RECORD or records.ndim != 1:
                    continue
                for key, vector in zip(records["key"], records["vector"], strict=True):
                    self._vectors[key.decode()] = vector
        return self._vectors

    def __contains__(self, key: str) -> bool:
        return key in self._load()

    def __len__(self) -> int:
        return len(self._load())

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The keys not yet cached, in first-seen order, without duplicates."""
        known = self._load()
        return list(dict.fromkeys(k for k in keys if k not in known))

    def get(self, keys: Sequence[str]) -> np.ndarray:
        known = self._load()
        return np.stack([known[k] for k in keys]) if keys else np.zeros((0, EMBED_DIM), "f4")

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        records = np.zeros(len(keys), dtype=RECORD)
        records["key"] = [k.encode() for k in keys]
        records["vector"] = vectors.astype(np.float32)
        name = hashlib.sha256("".join(keys).encode()).hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / f"part-{name}.npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, records, allow_pickle=False)
        known = self._load()
        for key, vector in zip(keys, records["vector"], strict=True):
            known[key] = vector
