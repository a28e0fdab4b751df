"""Data-parallel fit under torchrun: 2 gloo processes on the CPU, real data."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sslts import distributed

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    from sslts import TS2VecTransformer, load_dataset, distributed

    data_home, out = sys.argv[1], sys.argv[2]
    rank, world = distributed.init_from_env()
    X, _, _, _ = load_dataset("GunPoint", data_home=data_home)
    # A different seed per rank: the initial weights must still be rank 0's.
    enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_epochs=2,
                            batch_size=4, random_state=rank, device="cpu").fit(X)
    torch.save({
        "module": enc.module_.state_dict(),
        "averaged": enc.averaged_module_.state_dict(),
        "n_iter": enc.n_iter_,
        "loss": enc.loss_history_,
        "shard": distributed.shard(np.arange(len(X))),
        "world": world,
    }, f"{out}/rank{rank}.pt")
    if distributed.is_main_process():
        enc.save(f"{out}/model.pt")
    torch.distributed.destroy_process_group()
    """
)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("ddp")
    script = out / "train.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc-per-node", "2", str(script), str(shared_data), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]
    return out, ranks


@pytest.mark.slow
def test_ranks_end_with_identical_weights(two_rank_run):
    _, (r0, r1) = two_rank_run
    assert r0["world"] == r1["world"] == 2
    for key in ("module", "averaged"):
        for name, tensor in r0[key].items():
            assert torch.equal(tensor, r1[key][name]), f"{key}.{name} differs between ranks"
    assert r0["loss"] == r1["loss"]  # epoch losses are averaged over the ranks


@pytest.mark.slow
def test_each_rank_trains_on_its_own_shard(two_rank_run):
    _, (r0, r1) = two_rank_run
    # GunPoint has 50 series: 25 per rank, 25 // 4 = 6 steps per epoch, 2 epochs.
    assert r0["n_iter"] == r1["n_iter"] == 2 * (25 // 4)
    assert set(r0["shard"]).isdisjoint(r1["shard"])
    assert sorted(np.concatenate([r0["shard"], r1["shard"]])) == list(range(50))


@pytest.mark.slow
def test_only_rank_zero_saves_a_loadable_model(two_rank_run):
    import sslts

    out, (r0, _) = two_rank_run
    assert sorted(p.name for p in out.glob("model*.pt")) == ["model.pt"]
    enc = sslts.load(out / "model.pt")
    for name, tensor in r0["averaged"].items():
        assert torch.equal(enc.averaged_module_.state_dict()[name], tensor)


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
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.full((3,), 2.0)
    distributed.average_gradients([p])
    assert torch.equal(p.grad, torch.full((3,), 2.0))
    t = torch.tensor(4.0)
    assert distributed.all_reduce_mean(t) is t
