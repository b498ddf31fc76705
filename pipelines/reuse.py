"""What one graph generation leaves for the next of the same user: each text's analysis and vector.

Users regenerate their graph as their history grows; most conversations are unchanged. An entry is
keyed by the item's ``orig_id`` and the hash of the text that is embedded, and a store as a whole by
its user and the embedder's fingerprint (model, weights, analysis version): a changed conversation, a
changed embedder or a changed analysis version finds nothing and is computed afresh. A store holds
the items of one graph only, so conversations that left the history leave the store with it.

Stored as one ``.npz`` (no pickles): the texts' terms and features as indices into one vocabulary,
their semantic vectors as float32 rows, exactly as computed, so a warm run equals a cold one.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.source import SourceItem
from pipelines.embed import Embedded, Known
from pipelines.text import AnalyzedText

#: Version of the stored layout.
FORMAT = 1


def content_hash(text: str) -> str:
    """The hash of the text that is embedded."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _json_array(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _json_value(array: np.ndarray) -> object:
    return json.loads(array.tobytes().decode("utf-8"))


@dataclass(slots=True)
class ReuseStore:
    """One user's known texts for one embedder: ``(orig_id, content hash)`` -> ``Known``."""

    user_id: str
    fingerprint: str
    entries: dict[tuple[str, str], Known] = field(default_factory=dict)

    def lookup(self, items: Sequence[SourceItem]) -> list[Known | None]:
        """The known analysis and vector of every item whose text is unchanged, else ``None``."""
        return [self.entries.get((item.orig_id, content_hash(item.text))) for item in items]

    @classmethod
    def of_build(
        cls, user_id: str, fingerprint: str, items: Sequence[SourceItem], embedded: Embedded
    ) -> ReuseStore:
        """The store a graph of ``items`` leaves: exactly its items, nothing of earlier graphs."""
        store = cls(user_id, fingerprint)
        for i, item in enumerate(items):
            semantic = embedded.semantic[i] if embedded.semantic is not None else None
            store.entries[(item.orig_id, content_hash(item.text))] = Known(embedded.analyses[i], semantic)
        return store

    def to_bytes(self) -> bytes:
        """The store as ``.npz`` bytes."""
        keys = list(self.entries)
        known = [self.entries[key] for key in keys]
        vocabulary: dict[str, int] = {}
        arrays: dict[str, Any] = {}
        for part in ("terms", "features"):
            rows = [
                np.fromiter(
                    (vocabulary.setdefault(word, len(vocabulary)) for word in words),
                    dtype=np.int32,
                    count=len(words),
                )
                for words in (getattr(entry.analysis, part) for entry in known)
            ]
            offsets = np.zeros(len(known) + 1, dtype=np.int64)
            np.cumsum([len(row) for row in rows], out=offsets[1:])
            arrays[part] = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int32)
            arrays[f"{part}_offsets"] = offsets
            del rows
        arrays["korean_share"] = np.asarray([e.analysis.korean_share for e in known], dtype=np.float64)
        semantic = [e.semantic for e in known if e.semantic is not None]
        if known and len(semantic) == len(known):
            arrays["semantic"] = np.vstack(semantic).astype(np.float32, copy=False)
        header = {"format": FORMAT, "userId": self.user_id, "embedder": self.fingerprint}
        arrays["header"] = _json_array(header)
        arrays["keys"] = _json_array([list(key) for key in keys])
        arrays["vocabulary"] = _json_array(list(vocabulary))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, user_id: str, fingerprint: str) -> ReuseStore:
        """The store in ``data`` if it is ``user_id``'s for this embedder, else an empty one.

        ``ValueError`` if ``data`` is not a store.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
                arrays = {name: loaded[name] for name in loaded.files}
            header = _json_value(arrays["header"])
            if not isinstance(header, dict):
                raise ValueError("no header")
            if (header.get("format"), header.get("userId"), header.get("embedder")) != (
                FORMAT,
                user_id,
                fingerprint,
            ):
                return cls(user_id, fingerprint)
            keys = [tuple(key) for key in _json_value(arrays["keys"])]  # type: ignore[attr-defined]
            vocabulary = [str(word) for word in _json_value(arrays["vocabulary"])]  # type: ignore[attr-defined]
            words = {
                part: _token_lists(arrays, part, len(keys), vocabulary) for part in ("terms", "features")
            }
            shares = arrays["korean_share"]
            semantic = arrays.get("semantic")
            if len(shares) != len(keys) or (semantic is not None and len(semantic) != len(keys)):
                raise ValueError("arrays of different lengths")
        except (KeyError, OSError, EOFError, TypeError, UnicodeDecodeError, zipfile.BadZipFile) as error:
            raise ValueError(f"not a reuse store: {error}") from error
        store = cls(user_id, fingerprint)
        for i, key in enumerate(keys):
            if len(key) != 2:
                raise ValueError("a key is not (orig_id, hash)")
            analysis = AnalyzedText(
                terms=words["terms"][i], features=words["features"][i], korean_share=float(shares[i])
            )
            store.entries[(str(key[0]), str(key[1]))] = Known(
                analysis, semantic[i] if semantic is not None else None
            )
        return store


def _token_lists(
    arrays: dict[str, np.ndarray], part: str, count: int, vocabulary: list[str]
) -> list[list[str]]:
    tokens, offsets = arrays[part], arrays[f"{part}_offsets"]
    if len(offsets) != count + 1 or (len(tokens) and (tokens.min() < 0 or tokens.max() >= len(vocabulary))):
        raise ValueError(f"{part} do not match the vocabulary")
    if offsets[0] != 0 or offsets[-1] != len(tokens) or np.any(np.diff(offsets) < 0):
        raise ValueError(f"{part} offsets are not ascending")
    return [[vocabulary[t] for t in tokens[offsets[i] : offsets[i + 1]].tolist()] for i in range(count)]
