"""The optimiser loop of the synthetic experiment (hetpref.synthetic.optim): Adam equals torch's,
batches come from the seed's train stream, one stream per dataset, and a non-finite loss stops
the run naming the step."""
import pytest
import torch

from hetpref.synthetic.data import generator
from hetpref.synthetic.optim import Adam, optimise


def test_adam_matches_torch_adam():
    torch.manual_seed(0)
    w1 = torch.nn.Parameter(torch.randn(5, 4))
    w2 = torch.nn.Parameter(w1.detach().clone())
    ours, ref = Adam([w1], lr=1e-2), torch.optim.Adam([w2], lr=1e-2)
    for step in range(50):
        target = torch.randn(5, 4, generator=torch.Generator().manual_seed(step))
        for w, opt in ((w1, ours), (w2, ref)):
            opt.zero_grad()
            ((w - target) ** 2).sum().backward()
            opt.step()
    torch.testing.assert_close(w1, w2, rtol=1e-5, atol=1e-6)


def _recorder(module):
    seen = []

    def loss_of(indices, step):
        seen.append(indices)
        return (module.weight ** 2).sum() + 0 * step

    return seen, loss_of


def test_optimise_draws_the_batches_of_the_train_stream_and_logs_windows():
    module = torch.nn.Linear(1, 1, bias=False)
    seen, loss_of = _recorder(module)
    traj = optimise(module, loss_of, 50, steps=7, batch_size=4, lr=0.1, seed=3, log_every=3, chunk=5)
    expected = torch.cat([torch.randint(50, (5, 4), generator=g) for g in [generator(3, "train")] * 2])[:7]
    assert torch.equal(torch.stack(seen), expected)  # chunks of 5 steps, one stream
    assert [step for step, _ in traj] == [3, 6, 7]  # every log_every steps, and the last
    assert traj[0][1] > traj[-1][1]  # Adam reduces w²


def test_optimise_gives_each_dataset_the_stream_of_its_own_run():
    module = torch.nn.Linear(1, 1, bias=False)
    seen, loss_of = _recorder(module)
    optimise(module, loss_of, (30, 80), steps=4, batch_size=2, lr=0.1, seed=1, log_every=2)
    alone = {}
    for n in (30, 80):
        one, one_loss = _recorder(torch.nn.Linear(1, 1, bias=False))
        optimise(torch.nn.Linear(1, 1, bias=False), one_loss, n, steps=4, batch_size=2, lr=0.1, seed=1, log_every=2)
        alone[n] = torch.stack(one)
    assert torch.equal(torch.stack([s[0] for s in seen]), alone[30])
    assert torch.equal(torch.stack([s[1] for s in seen]), alone[80])


def test_optimise_stops_on_a_non_finite_loss():
    module = torch.nn.Linear(1, 1, bias=False)

    def loss_of(indices, step):
        return (module.weight ** 2).sum() * (float("nan") if step == 4 else 1.0)

    with pytest.raises(FloatingPointError, match="non-finite joint-model loss .* by step 6"):
        optimise(module, loss_of, 10, steps=9, batch_size=2, lr=0.1, seed=0, log_every=3, what="joint-model")
