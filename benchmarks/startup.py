"""Start-up: what importing the store, a format, a widget or the CLI costs, against
``import geopandas`` in the same venv.

Each import runs in a fresh process (so nothing is cached in the interpreter), five
times; the median wall time is kept. The operating system's file cache is warm
for all of them alike, so the ratios are what count. Prints JSON.

    python benchmarks/startup.py
    python benchmarks/startup.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

BASELINE = "import geopandas"
OURS = {
    "store": "from geolabel_widgets import LabelStore",
    "a format": "from geolabel_widgets.formats import read_coco",
    "the tagger": "from geolabel_widgets import ImageTagger",
    "everything": "import geolabel_widgets as g; [getattr(g, n) for n in g.__all__]",
}
GOALS = {"store": 1.5}  # at most this many times geopandas' import


def cold(command: list[str], runs: int) -> float:
    """Median seconds of ``command`` over ``runs`` fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = [sys.executable, "-c"]
    cold([*python, BASELINE], 1)  # warm the file cache for everyone alike
    baseline = cold([*python, BASELINE], args.runs)
    results = {"runs": args.runs, "import geopandas_s": round(baseline, 3)}
    for name, statement in OURS.items():
        seconds = cold([*python, statement], args.runs)
        results[name] = {"statement": statement, "s": round(seconds, 3),
                         "ratio_to_geopandas": round(seconds / baseline, 2)}
        if name in GOALS:
            results[name]["goal_ratio"] = GOALS[name]
    helped = cold([*python, "from geolabel_widgets.cli import main; main(['--help'])"],
                  args.runs)
    results["geolabel --help"] = {"s": round(helped, 3), "goal_s": 1.0,
                                  "ratio_to_geopandas": round(helped / baseline, 2)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
