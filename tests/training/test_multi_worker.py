"""MultiWorkerMirroredStrategy with two local worker processes on 127.0.0.1."""

import json
import os
import pathlib
import re
import socket
import subprocess
import sys

import pytest

JOB = pathlib.Path(__file__).with_name("multi_worker_job.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_train_in_sync(tmp_path):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                   CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(JOB.parents[2]))
        procs.append(subprocess.Popen([sys.executable, str(JOB), str(tmp_path / "run")], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("multi-worker training did not finish in 240 s")
        outs.append(out)
        assert p.returncode == 0, out[-3000:]
    losses = [re.search(r"worker (\d) replicas 2 loss ([0-9.]+)", o) for o in outs]
    assert all(losses), outs
    assert losses[0].group(2) == losses[1].group(2)  # synchronous: both see the same global loss
    assert (tmp_path / "run" / "checkpoints" / "checkpoint").exists()  # the chief's checkpoint
