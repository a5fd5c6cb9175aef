"""Offline corpora: deterministic batches, a fixed alphabet, a known entropy floor."""

import math

import pytest
import torch

from gqa_mup_ref.data import ALPHABET, decode, encode, load_corpus


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
    with pytest.raises(ValueError, match="'nope.txt' is neither 'pydoc', 'recall' nor an existing"):
        load_corpus("nope.txt")
    corpus = load_corpus("pydoc")
    with pytest.raises(ValueError, match="split='test'"):
        corpus.get_batch("test", 1, 8, torch.Generator())
    tiny = tmp_path / "t.txt"
    tiny.write_text("abc" * 10)
    with pytest.raises(ValueError, match="too few for context_length=64"):
        load_corpus(str(tiny)).get_batch("val", 1, 64, torch.Generator())
