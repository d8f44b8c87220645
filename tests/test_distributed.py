"""Distributed training: ``torchrun ... -m musewidgets train`` with DistributedDataParallel on 2 CPU processes (gloo)
trains and samples; its loss curve and final weights are the single-process ones for the same seed and global batch;
two torchrun launches (two "nodes" on this machine, a local c10d rendezvous) train one model, saved once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from musewidgets import io
from musewidgets.checkpoints import load_checkpoint
from musewidgets.datasets.corpus import load_style
from musewidgets.datasets.preparation import prepare
from musewidgets.training import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # seconds per launch: generous, the tests never depend on speed
TINY = ["--set", "hidden=16", "--set", "layers=1", "--set", "d_embed=16", "--batch-size", "4", "--seq-len", "32"]

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with gloo is not available",
)

SCRIPT = """
import json, os, sys
from musewidgets.training import TrainConfig, Trainer

config = json.loads(sys.argv[1])
trainer = Trainer(TrainConfig(**config), sys.argv[2])
trainer.show_progress = False
losses = []
trainer.add_callback("batch_end", lambda e: losses.append(e["loss"]))
result = trainer.fit()
rank = os.environ.get("RANK", "single")
Path = __import__("pathlib").Path
(Path(sys.argv[2]) / f"losses-{rank}.json").write_text(json.dumps({"losses": losses, "result": result}))
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Twelve one-voice tunes as MIDI files."""
    root = tmp_path_factory.mktemp("tunes")
    folk = load_style("folk", progress=False).pieces
    for i in range(12):
        io.write(folk[i], root / f"tune{i:02d}.mid")
    return root


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *args]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr[-4000:]}"
    return done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_process_reads_only_its_rows_of_the_global_batch(folder, tmp_path):
    from musewidgets.datasets.store import TokenStore

    prepare(folder, tmp_path / "store", progress=False)
    split = TokenStore(tmp_path / "store").split("train")
    kwargs = {"end_share": 0.3, "key_dropout": 0.3}
    rng = np.random.default_rng(5)
    whole = split.batch(rng, 7, 48, True, **kwargs)
    after = rng.bit_generator.state
    for rank in range(3):
        rng = np.random.default_rng(5)
        mine = split.batch(rng, 7, 48, True, **kwargs, part=(rank, 3))
        assert rng.bit_generator.state == after  # the generator moves on as for the whole batch
        assert mine.keys() == whole.keys()
        assert all(torch.equal(mine[k], whole[k][rank::3]) for k in whole), rank
    with pytest.raises(ValueError, match="part"):
        split.batch(rng, 4, 48, True, part=(2, 2))


def test_torchrun_trains_on_a_folder_and_the_checkpoint_samples(folder, tmp_path):
    from musewidgets.sampling import load_sampler

    out = tmp_path / "run"
    args = ["--standalone", "--nproc_per_node", "2", "-m", "musewidgets", "train", "--model", "lstm"]
    args += ["--data", str(folder), "--style-name", "tunes", "--out", str(out), "--max-steps", "4"]
    args += ["--eval-every", "2", "-q", *TINY]
    done = _run(_torchrun(*args), tmp_path)
    # process 0 alone reports, saves and writes the card
    assert done.stdout.count("lstm: step cap after 4 steps on 2 processes") == 1, done.stdout
    assert done.stdout.count("model cards written") == 1
    assert done.stderr.count("12 of 12 files used as style 'tunes'") == 1
    assert (out / "store" / "store.json").exists() and (out / "lstm.json").exists()
    ck = load_checkpoint(out / "lstm.pt")
    assert ck.meta["steps"] == 4 and next(ck.model.parameters()).device.type == "cpu"
    sampler = load_sampler(out / "lstm.pt")
    [piece] = sampler.generate(style="tunes", bars=2, seed=0)
    assert len(piece.parts) == 1 and piece.n_bars == 2


def test_ddp_gives_the_single_process_loss_curve_and_weights(folder, tmp_path):
    store = tmp_path / "store"
    prepare(folder, store, progress=False)  # both runs read the same prepared store (also a valid --data)
    config = dict(
        family="lstm",
        data=str(store),
        max_steps=5,
        eval_every=1000,
        minutes=60.0,
        batch_size=4,
        seq_len=32,
        lr=0.02,
        seed=3,
        model={"hidden": 16, "layers": 1, "d_embed": 16, "dropout": 0.0},  # dropout masks are drawn per process
    )
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))

    single = tmp_path / "single"
    trainer = Trainer(TrainConfig(**config), single)
    trainer.show_progress = False
    losses = []
    trainer.add_callback("batch_end", lambda e: losses.append(e["loss"]))
    assert trainer.fit()["steps"] == 5

    ddp = tmp_path / "ddp"
    ddp.mkdir()
    _run(_torchrun("--standalone", "--nproc_per_node", "2", str(script), json.dumps(config), str(ddp)), tmp_path)
    got = json.loads((ddp / "losses-0.json").read_text())
    assert json.loads((ddp / "losses-1.json").read_text())["losses"] == []  # events on process 0 only
    assert got["result"]["steps"] == 5 and len(got["losses"]) == 5
    np.testing.assert_allclose(got["losses"], losses, rtol=1e-4)
    print("max loss difference single vs DDP:", float(np.max(np.abs(np.array(got["losses"]) - losses))))

    fresh = Trainer(TrainConfig(**(config | {"max_steps": 0})), tmp_path / "fresh")  # the weights before step 1
    fresh.show_progress = False
    fresh.fit()
    one, two, init = (load_checkpoint(d / "lstm.pt").model.state_dict() for d in (single, ddp, tmp_path / "fresh"))
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5, msg=name)
    assert max(float((one[n] - init[n]).abs().max()) for n in one) > 1e-3  # they moved, and moved alike


def test_resume_under_torchrun_ends_where_a_run_through_ends(folder, tmp_path):
    from musewidgets.cli import main

    store = tmp_path / "store"
    prepare(folder, store, progress=False)
    args = ["train", "--model", "lstm", "--data", str(store), "--eval-every", "2", "--lr", "0.02", "-q", "--no-cards"]
    args += [*TINY, "--set", "dropout=0"]
    ddp = ["--standalone", "--nproc_per_node", "2", "-m", "musewidgets", *args, "--out", str(tmp_path / "ddp")]
    _run(_torchrun(*ddp, "--max-steps", "2"), tmp_path)
    _run(_torchrun(*ddp, "--max-steps", "4", "--resume"), tmp_path)
    assert main([*args, "--out", str(tmp_path / "single"), "--max-steps", "4"]) == 0
    one, two = (load_checkpoint(tmp_path / d / "lstm.last.pt") for d in ("single", "ddp"))
    assert one.meta["steps"] == two.meta["steps"] == 4
    for name, value in one.model.state_dict().items():
        torch.testing.assert_close(two.model.state_dict()[name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_two_nodes_with_a_local_rendezvous_train_one_model(folder, tmp_path):
    out = tmp_path / "run"
    port = _free_port()
    common = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d"]
    common += ["--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", "musewidgets-test"]
    train = ["-m", "musewidgets", "train", "--model", "lstm", "--data", str(folder), "--out", str(out)]
    train += ["--max-steps", "3", "--eval-every", "3", "-q", "--no-cards", *TINY]
    procs = [
        subprocess.Popen(
            _torchrun(*common, "--node_rank", str(rank), *train),
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=TIMEOUT)
            outputs.append(stdout)
            assert p.returncode == 0, f"{stdout}\n{stderr[-4000:]}"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert "".join(outputs).count("lstm: step cap after 3 steps on 2 processes") == 1  # one report, one save
    assert load_checkpoint(out / "lstm.pt").meta["steps"] == 3


def test_under_torchrun_threads_are_shared_and_other_families_refused(monkeypatch, capsys, tmp_path):
    from musewidgets.cli import main
    from musewidgets.threads import available_cores

    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    trainer = Trainer(TrainConfig(family="lstm", device="cpu"), tmp_path)
    assert trainer.threads() == max(1, available_cores() // 2)
    for args, message in [
        (["--model", "gan"], "under torchrun rnn, lstm and transformer train; train the gan with one process"),
        (["--model", "lstm", "--batch-size", "1"], "`batch_size` 1 is less than the 2 processes"),
    ]:
        assert main(["train", *args, "--out", str(tmp_path / "run"), "--device", "cpu", "-q"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
