"""The ``geolabel`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .formats import FORMATS, READ, WRITE

# The store, the formats' libraries and the demo are imported by the commands that use
# them: `geolabel --help` loads argparse and little else.


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    import sqlalchemy as sa

    from .imagery.header import UnreadableImage
    from .store import StoreError

    try:
        return args.run(args) or 0
    except (StoreError, UnreadableImage, OSError, ValueError) as err:  # OSError: the disk
        print(f"geolabel {args.command}: {err}", file=sys.stderr)
        return 1
    except sa.exc.OperationalError as err:  # a database server that is not there
        print(f"geolabel {args.command}: cannot reach the database ({err.orig})",
              file=sys.stderr)
        return 1


def _scheduler_argument(p, default: str | None, default_says: str) -> None:
    p.add_argument("--scheduler", default=default,
                   help=f"where the work runs: 'local' (a Dask LocalCluster), a scheduler "
                        f"address (tcp://host:8786, whose workers see the same files), or "
                        f"'none' (this process); default: {default_says}")
    p.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")


def _scheduler(args) -> str | None:
    return None if args.scheduler in (None, "none") else args.scheduler


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geolabel", description="Label Earth-science imagery in Jupyter.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("demo", help="build the synthetic demo store and open JupyterLab",
                            description="Build the demo store (once) and start JupyterLab on "
                                        "the quickstart notebook.")
    p.add_argument("--store", type=Path, default=None,
                   help="where the demo store lives (default: $GEOLABEL_DEMO_STORE or "
                        "~/.cache/geolabel_widgets/demo/demo.sqlite)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--port", type=int, default=8888, help="JupyterLab's port (default 8888)")
    p.add_argument("--build-only", action="store_true", help="build the store and stop")
    p.set_defaults(run=_demo)

    p = commands.add_parser("stats", help="counts of images and current labels",
                            description="Print images, labels, labelers and classes per "
                                        "dataset (current labels only).")
    p.add_argument("--store", required=True, help="store file or URL")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_stats)

    p = commands.add_parser("plots", help="write the distribution figures as PNG",
                            description="Write the Coast Train distribution figures (classes, "
                                        "labelers, locations, agreement) from the store.")
    p.add_argument("--store", required=True, help="store file or URL")
    p.add_argument("outdir", type=Path, help="folder for the PNG files")
    p.add_argument("--remap", type=Path, action="append", default=[], metavar="JSON",
                   help="a remap file with 'aliases' (class -> super-class) for the "
                        "super-class figures; repeat to merge several")
    p.add_argument("--view", help="an existing class view for the super-class figures")
    p.set_defaults(run=_plots)

    p = commands.add_parser("chips", help="cut large georeferenced rasters into chips",
                            description="Cut GeoTIFFs (or any raster GDAL reads, a COG URL "
                                        "too) into chips, window by window, and add them "
                                        "to the store as georeferenced images, a dataset "
                                        "per scene. Several scenes are cut on Dask.")
    p.add_argument("scene", nargs="+", help="the rasters to cut")
    p.add_argument("--store", required=True, help="store file or URL")
    p.add_argument("--size", type=int, default=512, help="chip side in pixels (default 512)")
    p.add_argument("--overlap", type=int, default=0, help="pixels shared by neighbours")
    p.add_argument("--region", type=Path, help="a GeoJSON (any CRS) outside which no chip is cut")
    p.add_argument("--dataset", help="dataset name (default: the scene's file name)")
    p.add_argument("--folder", type=Path, help="where the chip files go (several scenes: "
                                               "a folder each inside it)")
    _scheduler_argument(p, None, "'local' for several scenes, 'none' for one")
    p.set_defaults(run=_chips)

    p = commands.add_parser(
        "segment", help="predict every mask of a task again from its doodles",
        description="Predict again, from its doodles, the mask of every image of a task "
                    "(Coast Train's labels can be re-made this way with new settings). The "
                    "work runs on Dask; the masks are written in one transaction, the old "
                    "ones kept in the history.")
    p.add_argument("--store", required=True, help="store file or URL")
    p.add_argument("--task", help="the task (default: the store's only one)")
    p.add_argument("--labeler", help="only this labeler's doodles (default: everyone's)")
    p.add_argument("--work-size", type=int, default=512,
                   help="pixels across at which features are computed (default 512)")
    p.add_argument("--seed", type=int, default=0, help="the classifier's seed (default 0)")
    _scheduler_argument(p, "local", "local")
    p.set_defaults(run=_segment)

    p = commands.add_parser("store", help="whole-store operations",
                            description="Operations on a whole store.")
    store_commands = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    q = store_commands.add_parser("copy", help="copy a store into a new one (SQLite file or "
                                               "postgresql:// URL, either way)",
                                  description="Copy every image, task, labeler, label (with "
                                              "its history) and mask into an empty store.")
    q.add_argument("src", help="the store to copy: a file or URL")
    q.add_argument("dest", help="where to: a new file, or an empty database's URL")
    q.add_argument("--src-masks", type=Path, help="the source's mask folder (a URL's default: "
                                                  "./geolabel_masks)")
    q.add_argument("--dest-masks", type=Path, help="the destination's mask folder")
    q.set_defaults(run=_store_copy)

    p = commands.add_parser("team", help="who may write what on a PostgreSQL store",
                            description="Database roles for a team sharing a PostgreSQL "
                                        "store (run as its owner). A labeler role writes "
                                        "labels only under its own name; an admin role "
                                        "adds tasks, images and gold, assigns and reviews.")
    team_commands = p.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    for action, admin in (("add-labeler", False), ("add-admin", True)):
        q = team_commands.add_parser(action, help=f"create the login role NAME as "
                                                  f"{'an admin' if admin else 'a labeler'}")
        q.add_argument("name", help="the role, which is also the labeler's name")
        q.add_argument("--store", required=True, help="the store's postgresql:// URL")
        q.add_argument("--password", help="the role's password (default: none, for servers "
                                          "that authenticate otherwise)")
        q.set_defaults(run=_team_add, admin=admin)

    p = commands.add_parser("import", help="read a dataset in another format into the store",
                            description=f"Formats: {', '.join(sorted(READ))}.")
    p.add_argument("format", choices=sorted(READ))
    p.add_argument("src", help="the file, folder or database URL to read")
    p.add_argument("--store", required=True, help="store file or URL")
    p.add_argument("--dataset", help="dataset name (default: from the source)")
    p.add_argument("--remap", type=Path, action="append", metavar="JSON",
                   help="coasttrain: a remap file whose aliases map this record's classes to "
                        "super-classes (the class view 'superclasses'); repeat to merge")
    p.add_argument("--image", help="vector: the image (a file, or the name or id of one in "
                                   "the store) the shapes lie on (default: the store's "
                                   "images under them)")
    p.add_argument("--class-property", metavar="NAME",
                   help="vector: the property naming each shape's class")
    p.add_argument("--images", dest="images_dir", type=Path, metavar="DIR",
                   help="coco, datagym, labelstudio, yolo: the folder holding the images, where they are "
                        "not beside the labels")
    p.add_argument("--config", type=Path, metavar="XML",
                   help="labelstudio: the project's label config (its classes, in order)")
    p.add_argument("--root", type=Path,
                   help="s3label: the folder a relative data_path lies under (default: the "
                        "database file's)")
    p.add_argument("--crs", help="vector: the file's CRS where it gives none (EPSG:n, WKT), "
                                 "or 'image' to take the image's")
    p.add_argument("--scheduler", help="folder: read the headers on Dask ('local', or a "
                                       "scheduler address); default: this process")
    p.add_argument("--predictions", action="store_true", default=None,
                   help="coco (a results file), labelstudio, vector, yolo: read a model's "
                        "predictions (with their scores) as predictions, never as labels")
    p.add_argument("--model", help="with --predictions: the model's name (default: what the "
                                   "file says, else the format's name)")
    p.add_argument("--score-property", metavar="NAME",
                   help="vector --predictions: the property holding each shape's score "
                        "(default: score)")
    p.add_argument("--ground-truth", type=Path, metavar="JSON",
                   help="coco --predictions: the COCO file whose image ids and categories "
                        "the results file names")
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--replace", dest="mode", action="store_const", const="replace",
                       help="imported labels supersede a labeler's labels already there "
                            "(the default; history keeps the old ones)")
    modes.add_argument("--keep", dest="mode", action="store_const", const="keep",
                       help="add to the labels already there, changing none of them")
    p.set_defaults(run=_import)

    p = commands.add_parser(
        "export", help="write the store's labels in another format",
        description="Write the store's current labels in another format. Formats of one task "
                    "(coasttrain, coco, datagym, doodler, folder, seggym, veda) write --task, or the "
                    "store's only task when it has one; the others write every task unless "
                    f"--task names one. Formats: {', '.join(sorted(WRITE))}.")
    p.add_argument("format", choices=sorted(WRITE))
    p.add_argument("dest", help="the file, folder or database URL to write")
    p.add_argument("--store", required=True, help="store file or URL")
    p.add_argument("--task", help="the task whose labels to write (default: the only one, "
                                  "or every task for formats that hold several)")
    p.add_argument("--remap", type=Path, metavar="JSON",
                   help="doodler: also write the labels remapped to this remap file's "
                        "super-classes, as Doodler's gen_remapped_images_and_labels does")
    p.add_argument("--for-import", action="store_true",
                   help="datagym: a file DataGym's import takes (no null coordinates)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace what is at dest (by default an existing file or a folder "
                        "that is not empty is refused)")
    p.set_defaults(run=_export)
    return parser


def _open(target: str, must_exist: bool = True):
    from .store import LabelStore

    if must_exist and "://" not in target and not Path(target).exists():
        raise FileNotFoundError(f"no store at {target}")
    return LabelStore.open(target)


def _demo(args) -> int:
    from . import demo

    path = (args.store or demo.default_store_path()).absolute()
    with demo.demo_store(path):
        print(f"Demo store (synthetic data): {path}")
    if args.build_only:
        return 0
    notebooks = Path(os.environ.get("GEOLABEL_NOTEBOOKS",
                                    Path(__file__).resolve().parent.parent / "notebooks"))
    if not (notebooks / "00_quickstart.ipynb").exists():
        raise FileNotFoundError(f"no quickstart notebook in {notebooks}; run from a clone of "
                                "the repository or set GEOLABEL_NOTEBOOKS")
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={notebooks}",
               f"--port={args.port}", "00_quickstart.ipynb"]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "GEOLABEL_DEMO_STORE": str(path)}
    sys.stdout.flush()
    os.chdir(notebooks)
    # JupyterLab in this very process: a signal that stops `geolabel demo` stops it too
    os.execve(sys.executable, command, env)


def _stats(args) -> int:
    with _open(args.store) as store:
        stats = store.stats()
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
        return 0
    print(f"{stats['images']} images, {stats['annotations']} current labels")
    for name, d in stats["datasets"].items():
        print(f"  {name}: {d['images']} images, labelers {d['labelers']}, classes {d['classes']}")
    return 0


def _plots(args) -> int:
    from .plots import save_figures
    from .store.remap import read_remap_files

    with _open(args.store) as store:
        view = args.view
        if args.remap:
            view = store.remap(view or "superclasses", read_remap_files(args.remap))
        written = save_figures(store, args.outdir, view=view)
    print(f"wrote {len(written)} figures to {args.outdir}")
    return 0


def _chips(args) -> int:
    region = None
    if args.region is not None:
        from .formats.vector import read_shapes

        shapes = read_shapes(args.region)
        if shapes.crs is None:
            raise ValueError(f"{args.region}: its coordinates are not lon/lat and it names "
                             "no CRS, so the region cannot be placed")
        region = shapes.to_crs("EPSG:4326").union_all()
    several = "local" if len(args.scene) > 1 else None
    with _open(args.store, must_exist=False) as store:
        ids = store.add_chips(args.scene, size=args.size, overlap=args.overlap, region=region,
                              dataset=args.dataset, folder=args.folder, workers=args.workers,
                              scheduler=_scheduler(args) if args.scheduler else several)
        report = store.last_chips
    print(f"{len(ids)} chips added; skipped {report.nodata_only} of nodata only and "
          f"{report.outside_region} outside the region")
    return 0


def _import(args) -> int:
    declared = FORMATS[args.format]
    given = {option: getattr(args, option) for option in (
        "remap", "image", "class_property", "crs", "root", "mode", "images_dir", "config",
        "predictions", "model", "score_property", "ground_truth")}
    given["scheduler"] = _scheduler(args)
    options = {"dataset": args.dataset}
    for option, value in given.items():
        if value is not None:
            if option not in declared.import_options:
                flag = {"mode": "--keep and --replace do not", "images_dir": "--images does not"
                        }.get(option, f"--{option.replace('_', '-')} does not")
                raise ValueError(f"{flag} apply to {args.format} imports")
            options[option] = value
    from .store import UnreadableImagesWarning

    with _open(args.store, must_exist=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImagesWarning)  # the summary says it
        ids = declared.read(store, args.src, **options)
        report = getattr(store, "last_ingest", None)
        labels = getattr(store, "last_import", None)
    print(report.summary() if report else f"{len(ids)} images")
    if labels is not None:
        print(labels)
    return 0


def _segment(args) -> int:
    from .segment.resegment import resegment

    with _open(args.store) as store:
        task = args.task or _only_task(store, "segment")
        ids = resegment(store, task=task, labeler=args.labeler, work_size=args.work_size,
                        seed=args.seed, workers=args.workers, scheduler=_scheduler(args))
    print(f"{len(ids)} masks predicted again from their doodles in {task!r}")
    return 0


def _only_task(store, what: str) -> str:
    tasks = list(store.tasks.index)
    if not tasks:
        raise ValueError(f"{what} is of one task and the store has none")
    if len(tasks) != 1:
        raise ValueError(f"{what} is of one task and the store has {len(tasks)}: give --task "
                         f"({', '.join(map(repr, tasks))})")
    return tasks[0]


def _store_copy(args) -> int:
    from .store.copy import copy_store

    if "://" not in args.src and not Path(args.src).exists():
        raise FileNotFoundError(f"no store at {args.src}")
    copied = copy_store(args.src, args.dest, source_masks=args.src_masks,
                        dest_masks=args.dest_masks)
    print(f"copied {copied['images']} images, {copied['annotations']} label rows, "
          f"{copied['masks']} masks into {args.dest}")
    return 0


def _team_add(args) -> int:
    with _open(args.store) as store:
        store.add_role(args.name, admin=args.admin, password=args.password)
    print(f"role {args.name!r} may now work on {store.location} as "
          f"{'an admin' if args.admin else 'a labeler'}")
    return 0


def _export(args) -> int:
    declared = FORMATS[args.format]
    if declared.exports == "the store" and args.task is not None:
        raise ValueError(f"a {args.format} export holds the whole store: --task does not apply")
    given = {"remap": args.remap, "for_import": args.for_import or None}
    options = {} if args.task is None else {"task": args.task}
    for option, value in given.items():
        if value is not None:
            if option not in declared.export_options:
                raise ValueError(f"--{option.replace('_', '-')} does not apply to "
                                 f"{args.format} exports")
            options[option] = value
    with _open(args.store) as store:
        if declared.exports == "one task" and args.task is None:
            options["task"] = _only_task(store, f"a {args.format} export")
        declared.write(store, args.dest, overwrite=args.overwrite, **options)
    print(f"wrote {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
