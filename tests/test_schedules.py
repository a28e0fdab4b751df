"""Tests of the epoch-wise learning-rate schedules against the official TimeDRL rule."""

import io
import pickle

import pytest
import torch

from sslts.schedules import SCHEDULES, EpochLRFactor, epoch_scheduler, lr_factor

OFFICIAL = ("type1", "type3", "warmup", "constant")


def _official_rates(schedule, lr, n_epochs):
    """The rate each epoch runs at in the official loop, restated literally.

    The optimiser starts at ``lr``; after epoch ``e`` (1-based) the official
    ``adjust_learning_rate`` builds a dict ``{epoch: rate}`` and sets the rate
    when ``e`` is one of its keys.
    """
    current, used = lr, []
    for e in range(1, n_epochs + 1):
        used.append(current)
        if schedule == "type1":
            table = {e: lr * 0.5 ** ((e - 1) // 1)}
        elif schedule == "type3":
            table = {e: lr if e < 3 else lr * 0.9 ** ((e - 3) // 1)}
        elif schedule == "warmup":
            table = {e: lr * (e + 1) / 5 if e < 5 else lr * 0.9 ** ((e - 5) // 1)}
        else:
            table = {e: lr}
        if e in table:
            current = table[e]
    return used


def _scheduled_rates(schedule, lr, n_epochs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = epoch_scheduler(opt, schedule)
    used = []
    for _ in range(n_epochs):
        used.append(opt.param_groups[0]["lr"])
        opt.step()  # (no gradient: a no-op that keeps torch's call-order check quiet)
        sched.step()
    return used


@pytest.mark.parametrize("schedule", OFFICIAL)
def test_rates_match_the_official_rule(schedule):
    got = _scheduled_rates(schedule, 3e-3, 40)
    assert got == pytest.approx(_official_rates(schedule, 3e-3, 40), rel=1e-12)


def test_type1_keeps_the_first_two_epochs_at_the_base_rate():
    assert _scheduled_rates("type1", 1.0, 4) == [1.0, 1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    "schedule, total", [("type1", 3.0), ("type3", 12.42), ("warmup", 13.08), ("constant", 30.0)]
)
def test_epoch_equivalents_over_thirty_epochs(schedule, total):
    # The full-rate epoch equivalents quoted in the fidelity audit.
    assert sum(lr_factor(schedule, k) for k in range(30)) == pytest.approx(total, abs=0.01)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_state_dict_is_plain_data_and_resumes(schedule):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = epoch_scheduler(opt, schedule)
    for _ in range(3):
        opt.step()
        sched.step()
    buffer = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)  # fails on anything but plain data
    opt2 = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched2 = epoch_scheduler(opt2, schedule)
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    for _ in range(4):
        opt.step(), opt2.step()
        sched.step()
        sched2.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert opt.param_groups[0]["lr"] == pytest.approx(lr_factor(schedule, 7))


def test_factor_and_scheduler_pickle():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = pickle.loads(pickle.dumps(epoch_scheduler(opt, "warmup")))
    assert sched.lr_lambdas[0].schedule == "warmup"
    assert pickle.loads(pickle.dumps(EpochLRFactor("type1")))(2) == 0.5


def test_bad_schedule_and_epoch():
    with pytest.raises(ValueError, match="Unknown learning-rate schedule 'type2'.*type1"):
        EpochLRFactor("type2")
    with pytest.raises(ValueError, match="Unknown learning-rate schedule"):
        lr_factor("cosine", 0)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        lr_factor("type1", -1)
