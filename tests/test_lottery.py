"""Claims of the lottery-ticket slide: IMP with reset compounds as (1 - p)^r, a ticket is the mask
times the initial (or rewound) weights, and the two controls keep what they should keep."""
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labkit.errors import ParameterError
from labkit.pruning import (LotteryConfig, LotteryTicket, random_masks, reinitialize, sparsity,
                            train_controls)

torch.set_num_threads(1)


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


X, Y = torch.randn(48, 6, generator=torch.Generator().manual_seed(0)), torch.arange(48) % 3


def train_fn(model, after_step, steps=6):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        opt.step()
        after_step(model)
    return (model(X).argmax(1) == Y).float().mean().item()


def test_imp_with_reset_compounds_and_tickets_are_masked_initial_weights():
    net = tiny()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    lt = LotteryTicket(LotteryConfig(rounds=3, fraction=0.2)).fit(net, train_fn)
    assert [h["sparsity"] for h in lt.history_] == pytest.approx([0, 0.2, 0.36, 0.488], abs=0.01)
    ticket = lt.ticket(tiny(), round=3)
    for name, mask in lt.masks_[3].items():
        assert torch.equal(ticket.state_dict()[name], init[name] * mask)
    # each round prunes inside the previous mask
    for earlier, later in zip(lt.masks_, lt.masks_[1:]):
        assert all(not (later[n] & ~earlier[n]).any() for n in later)
    # masks hold after the final training round
    assert all((net.state_dict()[n][~m] == 0).all() for n, m in lt.masks_[-1].items())


def test_late_rewinding_resets_to_the_weights_after_k_steps():
    net = tiny()
    seen = {}

    def recording_train(model, after_step):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(1, 5):
            opt.zero_grad()
            F.cross_entropy(model(X), Y).backward()
            opt.step()
            after_step(model)
            if step == 2 and "w2" not in seen:
                seen["w2"] = model[0].weight.detach().clone()
        return 0.0

    lt = LotteryTicket(LotteryConfig(rounds=1, fraction=0.5, rewind_step=2)).fit(net, recording_train)
    assert torch.equal(lt.rewind_state_["0.weight"], seen["w2"])
    assert not torch.equal(lt.rewind_state_["0.weight"], lt.init_state_["0.weight"])


def test_controls_keep_the_mask_or_the_layer_counts():
    masks = {"w": torch.rand(10, 10, generator=torch.Generator().manual_seed(0)) > 0.7}
    shuffled = random_masks(masks, seed=3)
    assert int(shuffled["w"].sum()) == int(masks["w"].sum()) and not torch.equal(shuffled["w"], masks["w"])
    net = tiny()
    before = net[0].weight.clone()
    assert not torch.equal(reinitialize(net, seed=5)[0].weight, before)
    lt = LotteryTicket(LotteryConfig(rounds=2, fraction=0.5)).fit(tiny(), train_fn)
    records = train_controls(lt, tiny(), train_fn, rounds=[2])
    assert [r["round"] for r in records] == [2] and records[0]["sparsity"] == pytest.approx(sparsity(lt.masks_[2]))


def test_lottery_bad_input():
    with pytest.raises(ParameterError, match="'fraction' parameter of LotteryConfig"):
        LotteryTicket(LotteryConfig(fraction=1.0)).fit(tiny(), train_fn)
    with pytest.raises(ParameterError, match="'scope' parameter of LotteryConfig"):
        LotteryTicket(LotteryConfig(scope="row")).fit(tiny(), train_fn)
    with pytest.raises(ParameterError, match="'rewind_step' parameter of LotteryConfig must be an int <= the 6 steps"):
        LotteryTicket(LotteryConfig(rounds=1, rewind_step=100)).fit(tiny(), train_fn)
    with pytest.raises(ParameterError, match="'search' parameter of train_controls"):
        train_controls(LotteryTicket(), tiny(), train_fn)
    lt = LotteryTicket(LotteryConfig(rounds=1, fraction=0.5)).fit(tiny(), train_fn)
    with pytest.raises(ParameterError, match="'round' parameter of LotteryTicket.ticket"):
        lt.ticket(tiny(), round=5)
