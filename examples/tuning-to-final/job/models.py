"""The data set and the three model classes the tuning scenario compares (standard library only).

Each trainer returns (predict, state): predict(x) -> 0/1, state a JSON-serialisable description of the model.
"""
import math
import random

HYPERPARAMETERS = {
    "logreg": [{"lr": 0.05}, {"lr": 0.3}, {"lr": 1.0}],
    "knn": [{"k": 1}, {"k": 7}, {"k": 25}],
    "stumps": [{"rounds": 3}, {"rounds": 12}],
}


def make_dataset(n=600, seed=42):
    """Two interleaved classes in 2D: a ring around a blob, with label noise. Deterministic: every run sees the same."""
    rnd = random.Random(seed)
    data = []
    for _ in range(n):
        if rnd.random() < 0.5:
            r, label = abs(rnd.gauss(0.0, 0.8)), 0
        else:
            r, label = rnd.gauss(2.2, 0.4), 1
        a = rnd.uniform(0, 2 * math.pi)
        x = [r * math.cos(a) + 0.3, r * math.sin(a) - 0.2]
        if rnd.random() < 0.05:
            label = 1 - label
        data.append((x, label))
    return data


def features(x):
    # Squared terms let the linear model separate a ring from a blob.
    return [1.0, x[0], x[1], x[0] * x[0], x[1] * x[1], x[0] * x[1]]


def train_logreg(train, lr, epochs=60):
    w = [0.0] * 6
    for _ in range(epochs):
        for x, y in train:
            f = features(x)
            z = sum(wi * fi for wi, fi in zip(w, f))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            w = [wi + lr * (y - p) * fi for wi, fi in zip(w, f)]
    return (lambda x: 1 if sum(wi * fi for wi, fi in zip(w, features(x))) > 0 else 0), {"weights": w}


def train_knn(train, k):
    def predict(x):
        near = sorted(train, key=lambda t: (t[0][0] - x[0]) ** 2 + (t[0][1] - x[1]) ** 2)[:k]
        return 1 if sum(y for _, y in near) * 2 > len(near) else 0

    return predict, {"k": k, "training_rows": len(train)}


def train_stumps(train, rounds):
    """AdaBoost over decision stumps on the raw features and the radius."""
    feats = lambda x: [x[0], x[1], math.hypot(x[0], x[1])]
    n = len(train)
    wts = [1.0 / n] * n
    model = []
    for _ in range(rounds):
        best = None
        for j in range(3):
            values = sorted({round(feats(x)[j], 2) for x, _ in train})
            for thr in values[:: max(1, len(values) // 40)]:
                for sign in (1, -1):
                    err = sum(w for (x, y), w in zip(train, wts) if (1 if sign * (feats(x)[j] - thr) > 0 else 0) != y)
                    if best is None or err < best[0]:
                        best = (err, j, thr, sign)
        err, j, thr, sign = best
        err = min(max(err, 1e-9), 1 - 1e-9)
        alpha = 0.5 * math.log((1 - err) / err)
        model.append((alpha, j, thr, sign))
        for i, (x, y) in enumerate(train):
            h = 1 if sign * (feats(x)[j] - thr) > 0 else 0
            wts[i] *= math.exp(alpha if h != y else -alpha)
        total = sum(wts)
        wts = [w / total for w in wts]

    def predict(x):
        score = sum(a * (1 if s * (feats(x)[j] - t) > 0 else -1) for a, j, t, s in model)
        return 1 if score > 0 else 0

    return predict, {"stumps": model}


TRAINERS = {"logreg": train_logreg, "knn": train_knn, "stumps": train_stumps}


def accuracy(predict, rows):
    return sum(1 for x, y in rows if predict(x) == y) / len(rows)
