"""Deterministic, offline training data.

``load_corpus("pydoc")`` (the default) is character-level English: the help topics that ship
inside CPython as ``pydoc_data.topics`` (about 465k characters of prose and code examples), so
every machine with Python has it and nothing is downloaded. Predicting the next character of real
text needs attention (to copy identifiers, close brackets, continue words seen before), and it gives
sharper learning-rate curves than synthetic languages. The text differs slightly between Python
versions: ``Corpus.fingerprint`` identifies the exact bytes, and experiments print robust summaries.

``load_corpus("stdlib")`` is the Python standard library's own source text (every ``*.py`` file under
the running interpreter's ``stdlib`` folder, ``site-packages`` left out, concatenated in sorted order
of their relative paths): tens of MB on every machine with a full Python, enough that a run of a
few million tokens does not repeat its data. It depends on the Python version and distribution, so
``Corpus.info`` records the SHA-256 of the text, the Python version, the folder and the file count.

``load_corpus("recall")`` is a synthetic associative-recall language where attention must do the
work, with a known entropy floor. ``load_corpus(path)`` reads any local UTF-8 text file.

All text is mapped to a fixed 96-symbol alphabet (newline + printable ASCII), so the vocabulary does
not depend on the text.
"""

from __future__ import annotations

import hashlib
import math
import platform
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = ["ALPHABET", "Corpus", "encode", "decode", "load_corpus", "stdlib_text", "record_corpus"]

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_SPACE = _INDEX[" "]
# Token id of every ASCII code point (outside the alphabet: a space); code points ≥ 128 are spaces too.
_ASCII_TABLE = np.array([_INDEX.get(chr(c), _SPACE) for c in range(128)], dtype=np.uint8)


def encode(text: str) -> torch.Tensor:
    """Characters to token ids; tabs and anything outside the alphabet become spaces."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    tokens = np.where(codes < 128, _ASCII_TABLE[np.minimum(codes, 127)], _SPACE).astype(np.uint8)
    return torch.from_numpy(tokens)


def decode(tokens: torch.Tensor) -> str:
    return "".join(ALPHABET[int(t)] for t in tokens)


@dataclass(frozen=True)
class Corpus:
    """A token stream split into train and validation parts (the last ``val_fraction``)."""

    name: str
    train: torch.Tensor
    val: torch.Tensor
    vocab_size: int
    entropy_floor: float | None = None  # nats per token, where known
    # Where the text came from, where it varies between machines (``stdlib``: sha256, python_version…)
    info: Mapping = field(default_factory=dict, compare=False)

    @property
    def fingerprint(self) -> str:
        """First 12 hex digits of the SHA-256 of all tokens: identifies the exact data."""
        digest = hashlib.sha256(self.train.numpy().tobytes() + self.val.numpy().tobytes())
        return digest.hexdigest()[:12]

    def get_batch(
        self, split: str, batch_size: int, context_length: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, targets)``, each ``(batch_size, context_length)``, at random offsets."""
        data = {"train": self.train, "val": self.val}.get(split)
        if data is None:
            raise ValueError(f"split={split!r} must be 'train' or 'val'")
        if len(data) <= context_length + 1:
            raise ValueError(
                f"the {split} split has {len(data)} tokens, too few for context_length="
                f"{context_length}; use a shorter context or a larger corpus"
            )
        starts = torch.randint(len(data) - context_length - 1, (batch_size,), generator=generator)
        windows = data[starts[:, None] + torch.arange(context_length + 1)].long()
        return windows[:, :-1], windows[:, 1:]


def load_corpus(source: str = "pydoc", val_fraction: float = 0.1, seed: int = 0) -> Corpus:
    """``"pydoc"``, ``"recall"``, ``"stdlib"`` or a path to a local text file; see the module docstring."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction} must be between 0 and 1")
    if source == "pydoc":
        from pydoc_data.topics import topics

        tokens = encode("\n\n".join(topics[key] for key in sorted(topics)))
        floor = None
    elif source == "stdlib":
        text, info = stdlib_text()
        n_val = max(1, int(len(text) * val_fraction))
        tokens = encode(text)
        return Corpus(source, tokens[:-n_val], tokens[-n_val:], len(ALPHABET), None, info)
    elif source == "recall":
        tokens, floor = _associative_recall(seed=seed)
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(
                f"data source {source!r} is neither 'pydoc', 'recall', 'stdlib' nor an existing "
                "text file"
            )
        tokens, floor = encode(path.read_text(encoding="utf-8", errors="replace")), None
    n_val = max(1, int(len(tokens) * val_fraction))
    return Corpus(source, tokens[:-n_val], tokens[-n_val:], len(ALPHABET), floor)


def stdlib_text(root: str | Path | None = None) -> tuple[str, dict]:
    """The standard library's source text and where it came from: ``(text, info)``.

    ``root`` defaults to the running interpreter's ``sysconfig`` ``stdlib`` folder. Every ``*.py``
    file below it, except those under ``site-packages``/``dist-packages`` (installed third-party
    code) and ``__pycache__``, is read as UTF-8 (undecodable bytes replaced) in sorted order of its
    relative POSIX path, and the files are joined by a blank line. ``info`` holds ``sha256`` (of
    the text as UTF-8), ``python_version``, ``root``, ``files`` and ``characters``: two machines
    train on the same data exactly when the ``sha256`` agree.
    """
    folder = Path(root) if root is not None else Path(sysconfig.get_paths()["stdlib"])
    if not folder.is_dir():
        raise ValueError(
            f"the standard library folder {str(folder)!r} does not exist, so data='stdlib' cannot "
            "be built here; use a full Python install (not an embedded or .pyc-only one) or "
            "data='pydoc'"
        )
    skip = {"site-packages", "dist-packages", "__pycache__"}
    paths = sorted(
        (p.relative_to(folder).as_posix(), p)
        for p in folder.rglob("*.py")
        if p.is_file() and not skip.intersection(p.relative_to(folder).parts)
    )
    if not paths:
        raise ValueError(
            f"the standard library folder {str(folder)!r} holds no .py source files, so "
            "data='stdlib' cannot be built here; use a Python install that ships its sources "
            "or data='pydoc'"
        )
    text = "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for _, p in paths)
    info = {
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "python_version": platform.python_version(),
        "root": str(folder),
        "files": len(paths),
        "characters": len(text),
    }
    return text, info


def record_corpus(folder: str | Path, info: Mapping) -> Path:
    """Write ``info`` (a corpus's :attr:`Corpus.info`) to ``<folder>/corpus.json``, or check it.

    A run record's key does not include the corpus text, so a results folder of ``stdlib`` runs must
    hold runs of one text only. The first call writes the file; later calls raise ValueError when the
    stored ``sha256`` differs from ``info``'s (another Python version or distribution), naming both.
    """
    import json
    import os
    import tempfile

    folder = Path(folder)
    path = folder / "corpus.json"
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("sha256") != info.get("sha256"):
            raise ValueError(
                f"{path} records corpus sha256 {stored.get('sha256')} (Python "
                f"{stored.get('python_version')}), but this machine's text has {info.get('sha256')} "
                f"(Python {info.get('python_version')}); runs on different texts must not share a "
                "results folder: use another folder (sweep --results) or the recorded Python"
            )
        return path
    folder.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".corpus.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(dict(info), file, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path


def _associative_recall(
    n_episodes: int = 20_000, n_pairs: int = 12, n_keys: int = 8, n_values: int = 16, seed: int = 0
) -> tuple[torch.Tensor, float]:
    """Episodes ``k v k v … ;`` where each key keeps one value within an episode.

    Keys are letters ``a…``, values digits/letters ``A…``; a repeated key's value can only be
    predicted by attending back to its first occurrence. Returns the tokens and the entropy floor
    in nats per token (keys: log n_keys; a value after a new key: log n_values; after a repeated
    key: 0; the separator: 0).
    """
    generator = torch.Generator().manual_seed(seed)
    keys = torch.randint(n_keys, (n_episodes, n_pairs), generator=generator)
    mapping = torch.randint(n_values, (n_episodes, n_keys), generator=generator)
    values = torch.gather(mapping, 1, keys)
    key_chars = torch.tensor([_INDEX[c] for c in "abcdefghijklmnop"[:n_keys]], dtype=torch.uint8)
    value_chars = torch.tensor([_INDEX[c] for c in "ABCDEFGHIJKLMNOP"[:n_values]], dtype=torch.uint8)
    episodes = torch.stack([key_chars[keys], value_chars[values]], dim=2).reshape(n_episodes, -1)
    separator = torch.full((n_episodes, 1), _INDEX[";"], dtype=torch.uint8)
    tokens = torch.cat([episodes, separator], dim=1).reshape(-1)
    # Expected number of distinct keys among n_pairs uniform draws from n_keys.
    new_keys = n_keys * (1 - (1 - 1 / n_keys) ** n_pairs)
    nats = n_pairs * math.log(n_keys) + new_keys * math.log(n_values)
    return tokens, nats / (2 * n_pairs + 1)
