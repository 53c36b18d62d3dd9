"""The final run (standard library only): reads every class's result from the bucket mount, picks the best class,
trains it with its best parameters on the whole data set, and writes the model and a report beside the results
(<RESULTS_DIR>/final/model.json and report.txt, objects <batch>/final/... once the run ends).
"""
import glob
import json
import os

import models


def main():
    results = os.environ.get("RESULTS_DIR", "/mnt/results")
    found = []
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        with open(path) as f:
            found.append(json.load(f))
    if not found:
        raise SystemExit("no results in %s: did the tuning runs write any?" % results)
    ranking = sorted(found, key=lambda r: r["score"], reverse=True)
    best = ranking[0]
    data = models.make_dataset()
    predict, state = models.TRAINERS[best["class"]](data, **best["params"])
    on_all = models.accuracy(predict, data)
    out = os.path.join(results, "final")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"class": best["class"], "params": best["params"], "trainedOnRows": len(data), "state": state}, f)
    lines = ["ranking (validation accuracy):"]
    lines += ["  %d. %-7s %.4f %s" % (i + 1, r["class"], r["score"], json.dumps(r["params"])) for i, r in enumerate(ranking)]
    lines.append("final model: %s %s trained on all %d rows (accuracy on them %.4f)" % (best["class"], json.dumps(best["params"]), len(data), on_all))
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
