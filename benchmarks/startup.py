"""Start-up: what importing the store, a format, a widget or the CLI costs, against
``import geopandas`` in the same venv.

Each import runs in a fresh process (so nothing is cached in the interpreter), five
times, the statements taking turns; the median wall time is kept. The operating system's file cache is warm
for all of them alike, so the ratios are what count. Prints JSON.

    python benchmarks/startup.py
    python benchmarks/startup.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
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
HELP = "from geolabel_widgets.cli import main; main(['--help'])"
GOALS = {"store": "ratio at most 1.5", "geolabel --help": "under 1 s"}


# bytecode cached, as an installed package has it (pip compiles at install time)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def one_run(statement: str) -> float:
    """Seconds for a fresh interpreter to run ``statement``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, stdout=subprocess.DEVNULL,
                   env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    statements = {"import geopandas": BASELINE, **OURS, "geolabel --help": HELP}
    for statement in statements.values():
        one_run(statement)  # warm the file cache (and write bytecode) for everyone alike
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(args.runs):  # interleaved, so that a busy spell hits all alike
        for name, statement in statements.items():
            times[name].append(one_run(statement))
    median = {name: statistics.median(seconds) for name, seconds in times.items()}
    baseline = median.pop("import geopandas")
    results = {"runs": args.runs, "import geopandas_s": round(baseline, 3)}
    for name, seconds in median.items():
        results[name] = {"statement": statements[name], "s": round(seconds, 3),
                         "ratio_to_geopandas": round(seconds / baseline, 2)}
        if name in GOALS:
            results[name]["goal"] = GOALS[name]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
