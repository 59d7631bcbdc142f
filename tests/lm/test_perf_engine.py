"""The fast scoring paths (LlamaEngine, token trees, prefix cache, light load) give the same numbers
as transformers' own forward pass, on the tiny random-weight model."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from mtcheck.lm import scorer as scorer_module
from mtcheck.lm.models import LMError, LoadedModel, load_model
from mtcheck.lm.scorer import LlamaEngine, Scorer, Tree, _RowLayout
from mtcheck.lm.testing import tiny_model

TEXTS = [
    "The ferry left the harbour at dawn, and the gulls followed it out past the breakwater.",
    "Short one.",
    (
        "A council report, published on Thursday, says the new cycle lanes cut journey times by a "
        "fifth, although shop owners on the high street still want the parking spaces back."
    ),
    "Prices: 3.5%, 12 and 2,000 — all “quoted”; the end?",
    "Rain.",
    "Engineers said the tunnel would reopen once the pumps had cleared the water from both ends.",
]


@pytest.fixture(scope="module")
def lm() -> LoadedModel:
    return tiny_model(seed=3)


@pytest.fixture(scope="module")
def reference(lm) -> Scorer:
    """transformers' forward pass (the Scorer's transformers path)."""
    return Scorer(lm, engine="transformers", threads=1)


@pytest.fixture()
def fast(lm) -> Scorer:
    return Scorer(lm, engine="flat", threads=1)


def assert_same_scores(got, want, atol: float = 1e-4) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert np.array_equal(a.token_ids, b.token_ids)
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=atol)
        np.testing.assert_allclose(a.entropy, b.entropy, atol=atol)


def test_llama_models_run_on_the_engine(lm, fast) -> None:
    assert fast.engine is not None and LlamaEngine.unsupported(lm.model) is None
    assert Scorer(lm, engine="transformers").engine is None
    with pytest.raises(ValueError):
        Scorer(lm, engine="fastest")


def test_engine_matches_transformers(fast, reference) -> None:
    assert_same_scores(fast.score(TEXTS), reference.score(TEXTS))
    assert np.ptp(fast.score([TEXTS[0]])[0].logprobs) > 3  # sharp predictions: a misalignment would show


@pytest.mark.parametrize("layer", [0, 1, -1, -2])
def test_engine_hidden_states_match(fast, reference, layer) -> None:
    got, want = fast.score(TEXTS[:3], hidden_layer=layer), reference.score(TEXTS[:3], hidden_layer=layer)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.hidden, b.hidden, atol=1e-4)
    with pytest.raises(ValueError, match="hidden_layer"):
        fast.score(TEXTS[:1], hidden_layer=3)


def test_rows_of_different_lengths_go_to_several_attention_buckets(lm, reference) -> None:
    layout = _RowLayout([40, 38, 9, 8, 2], "bucket", torch.device("cpu"))
    assert len(layout.buckets) >= 2
    assert sorted(int(i) for _, _, flat, _ in layout.buckets for i in flat) == list(range(97))
    # one engine pass over all texts (several buckets) equals each text alone
    scorer = Scorer(lm, engine="flat", threads=1)
    together = scorer.score(TEXTS)
    alone = [scorer.score([text])[0] for text in TEXTS]
    assert_same_scores(together, alone)


def test_packed_attention_matches_buckets(lm, fast) -> None:
    packed = Scorer(lm, engine="flat", attention="packed", threads=1)
    assert_same_scores(packed.score(TEXTS), fast.score(TEXTS))


def test_small_token_budget_and_long_text_windows(lm, reference) -> None:
    small = Scorer(lm, engine="flat", token_budget=40, threads=1)
    assert small.flat_tokens == 40
    assert_same_scores(small.score(TEXTS), reference.score(TEXTS))
    long_text = " ".join(TEXTS * 3)
    windowed = Scorer(lm, engine="flat", max_tokens=32, context_tokens=8, threads=1)
    want = Scorer(lm, engine="transformers", max_tokens=32, context_tokens=8).score([long_text])
    assert_same_scores(windowed.score([long_text]), want)


def test_vocabulary_blocks_accumulate_like_one_softmax(lm, reference, monkeypatch) -> None:
    # The tiny vocabulary fits one block; cut it into several to exercise the running max/sum.
    monkeypatch.setattr(scorer_module, "VOCAB_BLOCK", 37)
    monkeypatch.setattr(scorer_module, "HEAD_CHUNK", 5)
    blocked = Scorer(lm, engine="flat", threads=1)
    with torch.inference_mode():
        rows = torch.randn(11, lm.model.config.hidden_size) * 3
        targets = torch.randint(0, lm.model.config.vocab_size, (11,))
        logits = blocked._logits(rows).double()
        logprobs, entropy = blocked._token_stats(rows, targets)
    full = torch.log_softmax(logits, dim=-1)
    np.testing.assert_allclose(logprobs, full.gather(1, targets[:, None]).squeeze(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(entropy, -(full.exp() * full).sum(-1).numpy(), atol=1e-4)
    assert_same_scores(blocked.score(TEXTS[:3]), reference.score(TEXTS[:3]))


def test_token_tree_equals_separate_sequences(lm, fast) -> None:
    engine = fast.engine
    sequences = [[5, 9, 13, 2, 7], [5, 9, 13, 4], [5, 9, 8, 8, 8, 1]]
    ids, parents, where, trie = [], [], [], {}
    for sequence in sequences:
        nodes, parent = [], -1
        for token in sequence:
            node = trie.get((parent, token))
            if node is None:
                node = trie[(parent, token)] = len(ids)
                ids.append(token)
                parents.append(parent)
            nodes.append(node)
            parent = node
        where.append(nodes)
    assert len(ids) == 5 + 1 + 4  # shared starts are computed once
    with torch.inference_mode():
        tree = engine.forward_tree(ids, parents).final
        for sequence, nodes in zip(sequences, where):
            alone = engine.forward([sequence]).final
            torch.testing.assert_close(tree[nodes], alone, atol=1e-5, rtol=1e-5)
        # the same tree continuing a past (the first two tokens) gives the same states
        head = engine.forward_tree(ids[:2], parents[:2])
        past = [(k[:, :, :2], v[:, :, :2]) for k, v in head.cache]
        rest = engine.forward_tree(ids[2:], [p - 2 if p >= 2 else -1 for p in parents[2:]], past).final
        torch.testing.assert_close(rest, tree[2:], atol=1e-5, rtol=1e-5)
        # nodes may continue different lengths of one past: [5, 9, 13, 2] cached, one branch
        # after 3 tokens (5 9 13 | 4), one after 2 (5 9 | 8 8 8)
        full = engine.forward_tree([5, 9, 13, 2], [-1, 0, 1, 2])
        branches = engine.forward_tree([4, 8, 8, 8], [-1, -1, 1, 2], full.cache, attach=[3, 2, 2, 2]).final
        torch.testing.assert_close(branches[0], engine.forward([[5, 9, 13, 4]]).final[3], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(branches[1:], engine.forward([[5, 9, 8, 8, 8]]).final[2:], atol=1e-5, rtol=1e-5)
        with pytest.raises(ValueError):
            engine.forward_tree([4], [-1], full.cache, attach=[5])


def test_forest_equals_its_trees_run_alone(lm) -> None:
    """Trees with different pasts (or none) side by side in one pass: each node's state and each
    tree's attention cache are what the tree alone gives."""
    engine = LlamaEngine.from_model(lm.model)
    with torch.inference_mode():
        past_a = engine.forward_tree([5, 9, 13, 2], [-1, 0, 1, 2]).cache
        past_b = engine.forward_tree([7, 7, 3], [-1, 0, 1]).cache
        trees = [
            Tree([4, 8, 8], [-1, 0, 1], past_a, attach=[4, 4, 4]),
            Tree([11, 12, 6, 6], [-1, 0, -1, 2]),
            Tree([1, 2], [-1, -1], past_b, attach=[3, 1]),
        ]
        together = engine.forward_forest(trees)
        for tree, joint in zip(trees, together):
            alone = engine.forward_tree(tree.ids, tree.parents, tree.past, tree.attach)
            torch.testing.assert_close(joint.final, alone.final, atol=1e-5, rtol=1e-5)
            for (k1, v1), (k2, v2) in zip(joint.cache, alone.cache):
                torch.testing.assert_close(k1, k2, atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(v1, v2, atol=1e-5, rtol=1e-5)
        assert engine.forward_forest([]) == []


CONTINUATION_CASES = [
    ("The museum will open a new", [" gallery in May.", " galleries", "", " photography gallery", "s of art", " 東京"]),
    ("Rain is expected. The committee", [" approved the budget.", " approved budget the.", " approve the budget."]),
    ("", [" option one is here", " option two", " option one"]),
    ("The committee approved the", [" budget", " budget"]),
]


@pytest.mark.parametrize("prefix,candidates", CONTINUATION_CASES)
def test_continuation_matches_transformers_and_full_scoring(fast, reference, prefix, candidates) -> None:
    got = fast.continuation_logprob(prefix, candidates)
    want = reference.continuation_logprob(prefix, candidates)
    np.testing.assert_allclose(got, want, atol=1e-3)
    for candidate, value in zip(candidates, got):
        if not candidate:
            assert value == 0.0
            continue
        [full] = fast.score([prefix + candidate])
        assert value == pytest.approx(float(full.logprobs[full.ends > len(prefix)].sum()), abs=1e-3)


def test_continuation_reuses_cached_starts(lm) -> None:
    scorer = Scorer(lm, engine="flat", threads=1)
    counted = []
    forward_forest = scorer.engine.forward_forest
    scorer.engine.forward_forest = lambda trees: counted.append(sum(len(t.ids) for t in trees)) or forward_forest(trees)
    prefix = "Rain is expected to continue through the weekend in the northern valleys. The committee"
    first = scorer.continuation_logprob(prefix, [" approved the budget.", " approved budget the."])
    assert scorer._prefixes.entries  # the shared start was kept
    again = scorer.continuation_logprob(prefix, [" approved the budget.", " approved budget the."])
    assert again == pytest.approx(first, abs=1e-4)
    assert counted[1] < counted[0]  # the second call only ran the candidates' tails
    other = scorer.continuation_logprob(prefix + " approved", [" the budget.", " budget the."])
    fresh = Scorer(lm, engine="flat", threads=1).continuation_logprob(prefix + " approved", [" the budget.", " budget the."])
    assert other == pytest.approx(fresh, abs=1e-4)


def test_windows_of_an_uncached_paragraph_compute_its_context_once(lm, reference, monkeypatch) -> None:
    """Windows of one paragraph whose tokens no score() call left in the cache: the first window
    runs at once and leaves the context for the next ones, which run only their tails (even when
    each window's tree is too large to share one with the next)."""
    scorer = Scorer(lm, engine="flat", threads=1)
    counted = []
    forward_forest = scorer.engine.forward_forest
    scorer.engine.forward_forest = lambda trees: counted.append(sum(len(t.ids) for t in trees)) or forward_forest(trees)
    paragraph = " ".join(TEXTS)
    words = paragraph.split(" ")
    requests = [(" ".join(words[:cut]) + " ", [words[cut] + " " + words[cut + 1], words[cut + 1]]) for cut in (30, 32, 34)]
    context = len(scorer.tokenize([requests[-1][0]])[0][0])
    monkeypatch.setattr(scorer_module, "TREE_NODES", context + 8)
    got = scorer.continuation_logprob_many(requests)
    assert sum(counted) < 1.5 * context  # not three times the paragraph's start
    for values, (prefix, candidates) in zip(got, requests):
        np.testing.assert_allclose(values, reference.continuation_logprob(prefix, candidates), atol=1e-3)


def test_prefix_cache_is_bounded(lm, monkeypatch) -> None:
    monkeypatch.setattr(scorer_module, "PREFIX_CACHE_TOKENS", 30)
    scorer = Scorer(lm, engine="flat", threads=1)
    scorer._prefixes.max_tokens = 30
    for text in TEXTS:
        scorer.continuation_logprob(text, [" yes.", " no."])
    assert sum(len(key) for key in scorer._prefixes.entries) <= 30
    assert len(scorer._prefixes.entries) <= scorer._prefixes.max_entries


def test_many_requests_at_once_equal_one_by_one(lm, fast) -> None:
    single = [Scorer(lm, engine="flat", threads=1).continuation_logprob(p, c) for p, c in CONTINUATION_CASES]
    for nodes in (4, 384):  # tiny trees (many passes) and one big tree
        scorer_module_nodes = scorer_module.TREE_NODES
        scorer_module.TREE_NODES = nodes
        try:
            batched = Scorer(lm, engine="flat", threads=1).continuation_logprob_many(CONTINUATION_CASES)
        finally:
            scorer_module.TREE_NODES = scorer_module_nodes
        for a, b in zip(batched, single):
            np.testing.assert_allclose(a, b, atol=1e-4)


def test_transformers_path_batches_many_requests(lm, reference) -> None:
    batched = reference.continuation_logprob_many(CONTINUATION_CASES)
    for (prefix, candidates), values in zip(CONTINUATION_CASES, batched):
        np.testing.assert_allclose(values, reference.continuation_logprob(prefix, candidates), atol=1e-5)


def test_score_ids_equals_score_of_the_text(fast) -> None:
    [from_text] = fast.score([TEXTS[0]])
    [from_ids] = fast.score_ids([from_text.token_ids.tolist()])
    np.testing.assert_allclose(from_ids.logprobs, from_text.logprobs, atol=1e-6)
    assert from_ids.text == "" and len(from_ids) == len(from_text)


def test_bf16_matmuls_are_close_but_opt_in(lm, fast, monkeypatch) -> None:
    monkeypatch.delenv("MTCHECK_LM_PRECISION", raising=False)
    exact = fast.score(TEXTS)
    assert fast.engine.precision == "float32"
    low = Scorer(lm, engine="flat", precision="bf16", threads=1)
    assert low.engine.precision == "bf16"
    approx = low.score(TEXTS)
    deltas = np.concatenate([np.abs(a.logprobs - b.logprobs) for a, b in zip(exact, approx)])
    assert 0 < deltas.mean() < 0.1 and deltas.max() < 2
    assert np.corrcoef(np.concatenate([a.logprobs for a in exact]), np.concatenate([b.logprobs for b in approx]))[0, 1] > 0.99
    monkeypatch.setenv("MTCHECK_LM_PRECISION", "bf16")
    assert Scorer(lm, engine="flat").engine.precision == "bf16"
    with pytest.raises(ValueError):
        Scorer(lm, precision="int4")
    with pytest.raises(LMError):
        Scorer(lm, engine="transformers", precision="bf16")


def test_thread_count_is_restored_and_can_be_fixed(lm, monkeypatch) -> None:
    before = torch.get_num_threads()
    scorer = Scorer(lm, engine="flat", threads=1)
    scorer.score(TEXTS[:2])
    assert torch.get_num_threads() == before
    assert scorer._threads.threads() == 1
    monkeypatch.setenv("MTCHECK_THREADS", "1")
    assert Scorer(lm)._threads.threads() == 1


def test_a_one_thread_choice_is_checked_again_soon(monkeypatch) -> None:
    """One thread (perhaps a probe hit by a burst of load) is re-timed after a few seconds; all
    threads only after RETUNE_SECONDS."""
    clock = [1000.0]
    monkeypatch.setattr(scorer_module.time, "monotonic", lambda: clock[0])
    probes = []
    speeds = {1: 1.0, 2: 0.9}  # all threads barely faster: one is chosen

    def timed(threads, x, w):
        probes.append(threads)
        return speeds[threads]

    tuner = scorer_module._ThreadTuner(None, torch.device("cpu"))
    tuner.most = 2
    monkeypatch.setattr(tuner, "_time", timed)
    assert tuner.threads() == 1
    speeds[2] = 0.5
    clock[0] += scorer_module.RETUNE_ONE_THREAD_SECONDS - 0.1
    assert tuner.threads() == 1 and len(probes) == 2 * scorer_module.PROBE_ROUNDS
    clock[0] += 0.2
    assert tuner.threads() == 2 and len(probes) == 4 * scorer_module.PROBE_ROUNDS
    speeds[2] = 0.9
    clock[0] += scorer_module.RETUNE_SECONDS - 0.1
    assert tuner.threads() == 2  # not re-timed yet
    clock[0] += 0.2
    assert tuner.threads() == 1


def test_light_load_scores_like_transformers_without_importing_it(tmp_path) -> None:
    import subprocess
    import sys

    lm = tiny_model(seed=5)
    folder = tmp_path / "tiny"
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    light = load_model(str(folder), device="cpu")
    assert light.weights is not None and not light.has_model()
    fast = Scorer(light)
    assert fast.engine is not None and not light.has_model()  # scoring needs no transformers model
    texts = [*TEXTS, "Literal <|endoftext|> text, 東京 🙂 and  two  spaces."]
    got = fast.score(texts)
    want = Scorer(lm, engine="transformers").score(texts)
    assert_same_scores(got, want)
    for a, b in zip(got, want):
        assert np.array_equal(a.starts, b.starts) and np.array_equal(a.ends, b.ends)
    assert not light.model.training and light.has_model()  # built on first access
    assert light.tokenizer.is_fast
    code = (
        "import sys\n"
        "from mtcheck.lm.models import load_model\n"
        "from mtcheck.lm.scorer import Scorer\n"
        f"scores = Scorer(load_model({str(folder)!r}, device='cpu')).score(['The ferry left.'])\n"
        "assert len(scores[0]) > 0\n"
        "assert 'transformers' not in sys.modules, 'transformers was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_light_load_can_be_switched_off(tmp_path, monkeypatch) -> None:
    lm = tiny_model(seed=5)
    folder = tmp_path / "tiny"
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    monkeypatch.setenv("MTCHECK_LIGHT_LOAD", "0")
    heavy = load_model(str(folder), device="cpu")
    assert heavy.weights is None and heavy.has_model()
    assert Scorer(heavy).engine is not None  # the engine then runs on the transformers modules


def test_loaded_model_stays_a_dataclass(lm) -> None:
    copy = dataclasses.replace(lm, device="cpu")
    assert copy.model is lm.model and copy.tokenizer is lm.tokenizer
    assert "model=" not in repr(copy)
    assert math.isfinite(Scorer(copy).score(["Rain."])[0].total_logprob)
