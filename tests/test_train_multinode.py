"""Multi-node msrun on one machine (slow): two node processes on loopback with one CPU worker
each train exactly as one node with two workers (every per-epoch number, bit for bit, one CPU
thread per worker); when node 1 dies where the run cannot finish without it, node 0 stops with a
message naming it and leaves no process behind; resuming both nodes from the shared run directory
ends where the uninterrupted one-node run ends.

The kill must land before a collective that node 0 still needs: killed after the last one, node
0 finishes normally (a fast machine gets there within a second of epoch 2's checkpoint). So both
nodes run with the training loop's test hook (ms_acmix.train.distributed.hold_for_fault_test):
every worker waits after epoch 2 until a release file appears; the test kills node 1 there, then
releases node 0 into epoch 3, whose first gradient all-reduce needs node 1."""
import csv
import os
import signal
import socket
import subprocess
import time

import pytest

from ms_acmix.train.distributed import TEST_HOLD_ENV
from tests.test_train_launcher import LAUNCHER, REPO, digits, train_processes  # noqa: F401

RUN = ["--epochs", "3", "--set", "train.max_steps_per_epoch=6", "--set", "train.log_interval=3",
       "--set", "train.threads=1"]
COLUMNS = ("epoch", "global_step", "train_loss", "lr", "val_top1", "val_top5", "val_loss")


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def node(rank, run_dir, data, port, *extra, env=None):
    """One node's launcher in its own process group (kill the group: the node dies)."""
    args = ["bash", LAUNCHER, "--data-dir", str(data), "--output-dir", run_dir, "--workers", "1",
            "--nodes", "2", "--node-rank", str(rank), "--master-addr", "127.0.0.1",
            "--master-port", port, *RUN, *extra]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env={**os.environ, **(env or {})})


def metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return [{k: row[k] for k in COLUMNS} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_two_nodes_equal_one_node_survive_a_dead_node_and_resume(digits, tmp_path):  # noqa: F811
    one = str(tmp_path / "one")
    res = subprocess.run(["bash", LAUNCHER, "--data-dir", str(digits), "--output-dir", one,
                          "--workers", "2", *RUN], cwd=REPO, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]

    two, port = str(tmp_path / "two"), free_port()
    release = tmp_path / "release"
    hold = {TEST_HOLD_ENV: f"2:{release}"}  # every worker waits after epoch 2 for the file
    node1 = node(1, two, digits, port, env=hold)
    node0 = node(0, two, digits, port, env=hold)
    try:
        deadline = time.time() + 600
        while not os.path.exists(os.path.join(two, "checkpoints", "epoch_0002.json")):
            assert node0.poll() is None, node0.stdout.read()[-3000:]
            assert time.time() < deadline, "no second epoch"
            time.sleep(0.5)
        os.killpg(node1.pid, signal.SIGKILL)  # node 1 dies: launcher, msrun and worker
        assert node0.poll() is None, "node 0 ended before its third epoch"
        release.touch()  # node 0 goes on into epoch 3, which needs node 1
        started = time.time()
        out, _ = node0.communicate(timeout=300)
        waited = time.time() - started
    finally:
        for proc in (node0, node1):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    print(f"node 0 stopped {waited:.0f} s after node 1 died")
    assert node0.returncode == 1
    assert "error: worker rank 1 (node 1) stopped responding" in out, out[-3000:]
    time.sleep(1)
    assert not train_processes(two), "processes survived the dead node"

    port = free_port()
    resumed = [node(r, two, digits, port, "--resume", two) for r in (1, 0)]
    outs = [p.communicate(timeout=900)[0] for p in resumed]
    assert [p.returncode for p in resumed] == [0, 0], outs[1][-3000:]
    assert "resumed from" in outs[1] and " epoch 2:" in outs[1]
    assert metrics(two) == metrics(one)  # the same numbers, every epoch
