"""``attn_implementation: sdpa_unpadded`` (hetpref.lm.attention): attention per sequence on its
real tokens equals the padded batch's SDPA up to rounding, in scores and gradients, for both
model kinds, grouped-query attention included; any other mask falls back to SDPA exactly."""
import pytest
import torch

from hetpref.lm.attention import right_padded_lengths, unpadded_sdpa_attention
from hetpref.lm.models import add_lora, load_base_model
from hetpref.lm.training.pairs import encode_records, pair_batch
from hetpref.lm.training.scoring import sequence_scores
from tests.unit.test_lm_train import TINY, make_records, run

torch.set_num_threads(1)


def _causal_padding_mask(lengths, t):
    pos = torch.arange(t)
    lens = torch.tensor(lengths)
    return ((pos[None, :, None] >= pos[None, None, :]) & (pos[None, None, :] < lens[:, None, None]))[:, None]


def test_lengths_are_read_only_from_a_causal_right_padded_mask():
    mask = _causal_padding_mask([5, 3, 1], 5)
    assert right_padded_lengths(mask) == [5, 3, 1]
    left = mask.flip(-1).flip(-2)  # left padding: real tokens at the end
    assert right_padded_lengths(left.clone()) is None
    full = torch.ones(2, 1, 4, 4, dtype=torch.bool)  # bidirectional
    assert right_padded_lengths(full) is None
    assert right_padded_lengths(torch.zeros(2, 1, 4, 4)) is None  # additive float mask: not ours to read
    assert right_padded_lengths(None) is None


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_per_sequence_attention_equals_masked_sdpa_on_real_positions(kv_heads):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(0)
    lengths, t, heads, d = [7, 12, 3, 9], 12, 4, 8
    q = torch.randn(4, heads, t, d, requires_grad=True)
    k = torch.randn(4, kv_heads, t, d, requires_grad=True)
    v = torch.randn(4, kv_heads, t, d, requires_grad=True)
    module = torch.nn.Module()
    module.num_key_value_groups, module.is_causal, module.training = heads // kv_heads, True, False
    mask = _causal_padding_mask(lengths, t)
    real = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    grads = []
    outs = []
    for fn in (sdpa_attention_forward, unpadded_sdpa_attention):
        q.grad = k.grad = v.grad = None
        out, _ = fn(module, q, k, v, mask.clone(), dropout=0.0, scaling=d ** -0.5)
        (out * real[:, :, None, None]).square().sum().backward()
        outs.append(out[real])
        grads.append([x.grad.clone() for x in (q, k, v)])
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    # a mask it does not read (left padding) goes to SDPA unchanged: bit-identical
    left = mask.flip(-1).flip(-2).contiguous()
    with torch.no_grad():
        a, _ = sdpa_attention_forward(module, q, k, v, left, dropout=0.0, scaling=d ** -0.5)
        b, _ = unpadded_sdpa_attention(module, q, k, v, left, dropout=0.0, scaling=d ** -0.5)
    assert torch.equal(a, b)


@pytest.mark.parametrize("kind", ["causal_lm", "reward"])
def test_a_training_step_matches_sdpa_up_to_rounding(tok, kind):
    """Scores and LoRA gradients of one training step (dropout on, the same seed) with either
    kernel; the dropout masks are the same, so only rounding separates them."""
    enc = encode_records(make_records(6, seed=2), tok, 512)
    ids, attn, resp = pair_batch(enc, [0, 3, 5], tok.pad_token_id)
    assert (attn == 0).any()  # the batch is padded
    got = {}
    for impl in ("sdpa", "sdpa_unpadded"):
        model = load_base_model("tiny", tok, kind, "float32", TINY, attn_implementation=impl)
        assert model.config._attn_implementation == impl
        model = add_lora(model, 8, 32, 0.1, kind).train()
        torch.manual_seed(3)
        for p in model.parameters():  # LoRA B starts at 0: give every LoRA weight a gradient
            if p.requires_grad:
                torch.nn.init.normal_(p, std=0.05)
        torch.manual_seed(4)
        s = sequence_scores(model, ids, attn, resp, kind)
        s.sum().backward()
        got[impl] = (s.detach(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    (s0, g0), (s1, g1) = got["sdpa"], got["sdpa_unpadded"]
    assert not torch.equal(s0, torch.zeros_like(s0))
    torch.testing.assert_close(s1, s0, rtol=1e-5, atol=1e-5)
    assert g0.keys() == g1.keys() and len(g0) > 0
    for name in g0:
        torch.testing.assert_close(g1[name], g0[name], rtol=1e-4, atol=1e-5, msg=name)


def test_a_run_with_either_kernel_ends_at_the_same_loss_and_saves_its_kernel(tok, tmp_path):
    import json

    a = run(tok, tmp_path, "sdpa", "reward", records=make_records(12), lr=1e-2)
    b = run(tok, tmp_path, "unpadded", "reward", records=make_records(12), lr=1e-2,
            attn_implementation="sdpa_unpadded")
    assert a.metrics["final_loss"] == pytest.approx(b.metrics["final_loss"], rel=1e-5)
    assert json.loads((b.adapter_dir / "base.json").read_text())["attn_implementation"] == "sdpa_unpadded"
    from hetpref.lm.models import load_adapter

    model, _ = load_adapter(b.adapter_dir, tok)
    assert model.get_base_model().config._attn_implementation == "sdpa_unpadded"
