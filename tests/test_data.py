"""Offline corpora: deterministic batches, a fixed alphabet, a known entropy floor."""

import math

import pytest
import torch

from gqa_mup_ref.data import (_INDEX, _SPACE, ALPHABET, decode, encode, load_corpus, record_corpus,
                              stdlib_text)


def test_pydoc_corpus_is_english_and_split():
    corpus = load_corpus("pydoc")
    assert corpus.vocab_size == len(ALPHABET) == 96
    assert len(corpus.train) > 300_000 and len(corpus.val) > 30_000
    text = decode(corpus.train[:20_000])
    assert " the " in text and "def " in text


def test_batches_are_deterministic_and_shifted_by_one():
    corpus = load_corpus("pydoc")
    x1, y1 = corpus.get_batch("train", 4, 32, torch.Generator().manual_seed(3))
    x2, y2 = corpus.get_batch("train", 4, 32, torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.equal(x1[:, 1:], y1[:, :-1])
    assert x1.dtype == torch.long and x1.shape == (4, 32)


def test_unknown_characters_become_spaces():
    assert decode(encode("naïve\tcafé\n")) == "na ve caf \n"


def test_recall_floor_matches_a_count_over_the_episodes():
    corpus = load_corpus("recall")
    tokens = torch.cat([corpus.train, corpus.val])
    episodes = decode(tokens).split(";")[:-1]
    nats = 0.0
    for episode in episodes:
        seen = set()
        for key in episode[::2]:
            nats += math.log(8) + (0.0 if key in seen else math.log(16))
            seen.add(key)
    empirical = nats / len(tokens)
    assert corpus.entropy_floor == pytest.approx(empirical, rel=0.01)


def test_a_local_text_file_can_be_used(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("hello world\n" * 100)
    corpus = load_corpus(str(path))
    assert decode(corpus.train[:12]) == "hello world\n"
    assert corpus.fingerprint == load_corpus(str(path)).fingerprint


def test_bad_sources_and_splits_are_named(tmp_path):
    with pytest.raises(ValueError, match="'nope.txt' is neither 'pydoc', 'recall', 'stdlib' nor an"):
        load_corpus("nope.txt")
    corpus = load_corpus("pydoc")
    with pytest.raises(ValueError, match="split='test'"):
        corpus.get_batch("test", 1, 8, torch.Generator())
    tiny = tmp_path / "t.txt"
    tiny.write_text("abc" * 10)
    with pytest.raises(ValueError, match="too few for context_length=64"):
        load_corpus(str(tiny)).get_batch("val", 1, 64, torch.Generator())


def test_encode_matches_a_character_by_character_lookup():
    text = "Tab\there, naïve café, \r\n{[~]} \x7f \u2603 \U0001F600 end\n" + ALPHABET
    expected = [_INDEX.get(ch, _SPACE) for ch in text]
    assert encode(text).tolist() == expected
    assert encode("").numel() == 0


def _write(folder, files):
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_stdlib_text_is_sorted_by_path_skips_installed_packages_and_is_fingerprinted(tmp_path):
    import hashlib
    import platform

    _write(tmp_path, {"zeta.py": "z = 1\n", "alpha/b.py": "b = 2\n", "alpha/a.py": "a = 3\n",
                      "site-packages/numpy/x.py": "third party\n", "notes.txt": "not python\n",
                      "alpha/__pycache__/c.py": "cached\n"})
    text, info = stdlib_text(tmp_path)
    assert text == "a = 3\n\n\nb = 2\n\n\nz = 1\n"  # alpha/a.py, alpha/b.py, zeta.py
    assert info["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert info["python_version"] == platform.python_version()
    assert info["files"] == 3 and info["characters"] == len(text)
    # Creation order does not matter, only the paths.
    other = tmp_path / "other"
    _write(other, {"zeta.py": "z = 1\n", "alpha/a.py": "a = 3\n", "alpha/b.py": "b = 2\n"})
    assert stdlib_text(other)[1]["sha256"] == info["sha256"]


def test_stdlib_folder_missing_or_empty_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="standard library folder .*missing.* does not exist.*'pydoc'"):
        stdlib_text(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no .py source files.*'pydoc'"):
        stdlib_text(tmp_path)


def test_stdlib_corpus_is_large_and_records_its_source():
    import sysconfig

    corpus = load_corpus("stdlib")
    text, info = stdlib_text(sysconfig.get_paths()["stdlib"])
    assert corpus.info == info
    assert len(corpus.train) + len(corpus.val) == info["characters"] > 5_000_000
    assert decode(corpus.val[-2000:]) == decode(encode(text[-2000:]))
    assert "def " in decode(corpus.train[:50_000]) and "import " in decode(corpus.train[:50_000])


def test_record_corpus_writes_once_then_refuses_another_text(tmp_path):
    import json

    info = {"sha256": "a" * 64, "python_version": "3.11.7", "files": 3}
    path = record_corpus(tmp_path / "runs", info)
    assert json.loads(path.read_text()) == info
    assert record_corpus(tmp_path / "runs", dict(info, files=4)) == path  # same text: accepted
    assert json.loads(path.read_text()) == info  # and not rewritten
    with pytest.raises(ValueError, match="records corpus sha256 a+ .*Python 3.11.7.*bbbb.*Python 3.12.1"):
        record_corpus(tmp_path / "runs", {"sha256": "b" * 64, "python_version": "3.12.1"})
