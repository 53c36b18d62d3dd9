"""Checkpointed training: a small linear model trained by SGD on data this script generates.

It saves a checkpoint to CHECKPOINT_DIR (a storage mount, /mnt/checkpoints by default) after every epoch, and on
start resumes from the last one it finds. Cancel a run half-way, start another: it goes on where the first stopped.
Pure Python, no packages needed.

Environment: EPOCHS (20), EPOCH_SECONDS (1.0, simulated work per epoch), CHECKPOINT_DIR, SEED (7).
"""
import json
import os
import random
import signal
import sys
import time

EPOCHS = int(os.environ.get("EPOCHS", "20"))
EPOCH_SECONDS = float(os.environ.get("EPOCH_SECONDS", "1.0"))
CHECKPOINT_DIR = os.environ.get("CHECKPOINT_DIR", "/mnt/checkpoints")
SEED = int(os.environ.get("SEED", "7"))
CHECKPOINT = os.path.join(CHECKPOINT_DIR, "checkpoint.json")


def dataset(n=400):
    rng = random.Random(SEED)
    true_w, true_b = [2.0, -3.0, 0.5], 1.25
    rows = []
    for _ in range(n):
        x = [rng.uniform(-1, 1) for _ in true_w]
        y = sum(wi * xi for wi, xi in zip(true_w, x)) + true_b + rng.gauss(0, 0.05)
        rows.append((x, y))
    return rows


def mse(w, b, rows):
    return sum((sum(wi * xi for wi, xi in zip(w, x)) + b - y) ** 2 for x, y in rows) / len(rows)


def save(state):
    # Write then rename: a run killed mid-write leaves the previous checkpoint whole.
    tmp = CHECKPOINT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, CHECKPOINT)


def main():
    os.makedirs(CHECKPOINT_DIR, exist_ok=True)
    rows = dataset()
    state = {"epoch": 0, "w": [0.0, 0.0, 0.0], "b": 0.0, "lr": 0.05}
    if os.path.exists(CHECKPOINT):
        with open(CHECKPOINT) as f:
            state = json.load(f)
        print(f"resumed from epoch {state['epoch']} (loss {mse(state['w'], state['b'], rows):.5f})", flush=True)
    else:
        print("no checkpoint: starting from scratch", flush=True)

    def stop(signum, _frame):
        # The cancel's grace period: make sure the latest finished epoch is on disk, then stop.
        save(state)
        print(f"received signal {signum}: stopped, checkpoint at epoch {state['epoch']}", flush=True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    rng = random.Random(SEED + state["epoch"])
    while state["epoch"] < EPOCHS:
        w, b, lr = state["w"], state["b"], state["lr"]
        rng.shuffle(rows)
        for x, y in rows:
            err = sum(wi * xi for wi, xi in zip(w, x)) + b - y
            w = [wi - lr * err * xi for wi, xi in zip(w, x)]
            b -= lr * err
        time.sleep(EPOCH_SECONDS)
        state = {"epoch": state["epoch"] + 1, "w": w, "b": b, "lr": lr * 0.95}
        save(state)
        print(f"epoch {state['epoch']} loss {mse(w, b, rows):.5f}", flush=True)
    print(f"done: w={[round(v, 3) for v in state['w']]} b={state['b']:.3f}", flush=True)


if __name__ == "__main__":
    main()
