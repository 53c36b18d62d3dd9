"""One model class's tuning run (standard library only).

MODEL_CLASS (logreg | knn | stumps) selects the class. Every hyperparameter setting of the class is trained on 70% of
the generated data and scored on the other 30%; the best setting's score and parameters are written to
<RESULTS_DIR>/<class>.json (default /mnt/results: a bucket mount, so the file becomes the object
oci://results@<ns>/<batch>/<class>.json when the run ends) and reported as the run's metric.
"""
import json
import os
import time

import models
from dsjobs_metrics import report


def main():
    cls = os.environ["MODEL_CLASS"]
    results = os.environ.get("RESULTS_DIR", "/mnt/results")
    data = models.make_dataset()
    cut = int(len(data) * 0.7)
    train, valid = data[:cut], data[cut:]
    tried = []
    for params in models.HYPERPARAMETERS[cls]:
        started = time.time()
        predict, _ = models.TRAINERS[cls](train, **params)
        score = models.accuracy(predict, valid)
        tried.append({"params": params, "score": round(score, 4), "seconds": round(time.time() - started, 3)})
        print("%s %s: validation accuracy %.4f" % (cls, params, score))
    best = max(tried, key=lambda t: t["score"])
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "%s.json" % cls), "w") as f:
        json.dump({"class": cls, "score": best["score"], "params": best["params"], "tried": tried}, f, indent=2)
    print("best %s: %s (accuracy %.4f)" % (cls, best["params"], best["score"]))
    report("accuracy", best["score"])


if __name__ == "__main__":
    main()
