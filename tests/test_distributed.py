"""Data-parallel fit under torchrun: 2 gloo processes on the CPU, real data."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import TIMEOUT

from sslts import distributed

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    sys.path.insert(0, sys.argv[3])  # the tests folder, for the tiny configurations
    from estimator_configs import configured_estimators, make_tiny
    from sslts import load_dataset, distributed

    # Count the forwards that go through DistributedDataParallel.
    forwards = []
    original_forward = DDP.forward
    def counting_forward(self, *args, **kwargs):
        forwards.append(1)
        return original_forward(self, *args, **kwargs)
    DDP.forward = counting_forward

    data_home, out = sys.argv[1], sys.argv[2]
    rank, world = distributed.init_from_env()
    X, _, _, _ = load_dataset("GunPoint", data_home=data_home)
    X = X[:24, ::3]  # 12 series per rank, length 50
    results = {}
    for cls in configured_estimators():
        forwards.clear()
        # A different seed per rank: the initial weights must still be rank 0's.
        enc = make_tiny(cls, n_iters=None, n_epochs=3, random_state=rank).fit(X)
        # A generator fits its tokenizer (data-parallel too) before its prior.
        inner = getattr(enc, "tokenizer_", None)
        results[cls.__name__] = {
            "module": enc.module_.state_dict(),
            "averaged": None if enc.averaged_module_ is None
            else enc.averaged_module_.state_dict(),
            "tokenizer": None if inner is None else inner.module_.state_dict(),
            "n_iter": enc.n_iter_ + (0 if inner is None else inner.n_iter_),
            "loss": enc.loss_history_,
            "ddp_forwards": len(forwards),
        }
        if distributed.is_main_process():
            enc.save(f"{out}/{cls.__name__}.pt")
    # Gradient accumulation: micro-batches skip the gradient all-reduce but the last.
    from sslts import TS2VecTransformer
    from sslts.callbacks import GradientAccumulation
    forwards.clear()
    enc = make_tiny(TS2VecTransformer, n_iters=None, n_epochs=2, batch_size=6,
                    random_state=rank, callbacks=[GradientAccumulation(3)]).fit(X)
    results["accumulated"] = {"module": enc.module_.state_dict(), "n_iter": enc.n_iter_,
                              "ddp_forwards": len(forwards)}
    torch.save({"results": results, "world": world,
                "shard": distributed.shard(np.arange(len(X)))}, f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()
    """
)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("ddp")
    script = out / "train.py"
    script.write_text(SCRIPT)
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc-per-node", "2", str(script), str(shared_data), str(out), tests_dir]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]
    return out, ranks


def _names():
    from estimator_configs import configured_estimators

    return [cls.__name__ for cls in configured_estimators()]


@pytest.mark.slow
@pytest.mark.parametrize("name", _names())
def test_ranks_end_with_identical_parameters_and_buffers(two_rank_run, name):
    _, (r0, r1) = two_rank_run
    assert r0["world"] == r1["world"] == 2
    a, b = r0["results"][name], r1["results"][name]
    for key in ("module", "averaged", "tokenizer"):
        if a[key] is None:
            continue
        assert a[key].keys() == b[key].keys()
        for tensor_name, tensor in a[key].items():  # parameters AND buffers
            assert torch.equal(tensor, b[key][tensor_name]), (
                f"{name}: {key}.{tensor_name} differs between ranks")
    assert a["loss"] == b["loss"]  # epoch losses are averaged over the ranks


@pytest.mark.slow
@pytest.mark.parametrize("name", _names())
def test_every_step_runs_through_distributed_data_parallel(two_rank_run, name):
    _, (r0, r1) = two_rank_run
    for r in (r0, r1):
        res = r["results"][name]
        assert res["n_iter"] > 0
        assert res["ddp_forwards"] == res["n_iter"]


@pytest.mark.slow
def test_accumulated_steps_stay_in_sync_across_ranks(two_rank_run):
    _, (r0, r1) = two_rank_run
    a, b = r0["results"]["accumulated"], r1["results"]["accumulated"]
    assert a["n_iter"] == b["n_iter"] == 4  # 12 series per rank, batches of 6, 2 epochs
    assert a["ddp_forwards"] == 2 * a["n_iter"]  # two micro-batches of 3 per step
    for tensor_name, tensor in a["module"].items():
        assert torch.equal(tensor, b["module"][tensor_name]), tensor_name


@pytest.mark.slow
def test_each_rank_trains_on_its_own_shard(two_rank_run):
    _, (r0, r1) = two_rank_run
    assert set(r0["shard"]).isdisjoint(r1["shard"])
    assert sorted(np.concatenate([r0["shard"], r1["shard"]])) == list(range(24))


@pytest.mark.slow
@pytest.mark.parametrize("name", _names())
def test_only_rank_zero_saves_a_loadable_model(two_rank_run, name):
    import sslts

    out, (r0, _) = two_rank_run
    enc = sslts.load(out / f"{name}.pt")
    saved = r0["results"][name]
    reference = saved["averaged"] if saved["averaged"] is not None else saved["module"]
    loaded = (enc.averaged_module_ or enc.module_).state_dict()
    for tensor_name, tensor in reference.items():
        assert torch.equal(loaded[tensor_name], tensor)


@pytest.mark.parametrize("n,world", [(10, 2), (11, 3), (7, 7)])
def test_shard_partitions_equal_sized_disjoint_parts(n, world):
    X = np.arange(n)
    parts = [distributed.shard(X, rank=r, world_size=world) for r in range(world)]
    assert {len(p) for p in parts} == {n // world}
    seen = np.concatenate(parts)
    assert len(set(seen)) == len(seen) == (n // world) * world


def test_shard_needs_one_series_per_rank():
    with pytest.raises(ValueError, match="cannot be shared by 4 processes"):
        distributed.shard(np.arange(3), rank=0, world_size=4)


def test_helpers_are_no_ops_outside_a_process_group():
    X = np.arange(5)
    assert distributed.shard(X) is X
    assert distributed.rank_and_world() == (0, 1)
    assert distributed.is_main_process()
    module = torch.nn.Linear(2, 2)
    assert distributed.data_parallel(module, torch.device("cpu")) is module
    t = torch.tensor(4.0)
    assert distributed.all_reduce_mean(t) is t
