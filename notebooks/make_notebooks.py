"""Writes the demo notebooks (kept as code so that their text is reviewed like code).

Run ``python notebooks/make_notebooks.py`` after editing; notebooks are stored
without outputs.
"""

from pathlib import Path

import nbformat

HERE = Path(__file__).parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(text) if kind == "md"
                else nbformat.v4.new_code_cell(text) for kind, text in cells]
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{k:02d}"
    nbformat.write(nb, HERE / f"{name}.ipynb")


notebook("00_quickstart", [
    ("md", "# geolabel_widgets quickstart\n\n"
           "From nothing to a labeled dataset in five cells. The images are the package's "
           "**synthetic demo scenes**: 4-band GeoTIFFs drawn along the real coast of the Outer "
           "Banks, NC, with their CRS. None of it is real imagery."),
    ("md", "**1. Open a store and add images.** A store is one SQLite file (or a PostgreSQL URL); "
           "images are added by reference, their headers and footprints read, nothing copied."),
    ("code", "from shapely.geometry import Polygon\n\n"
             "from geolabel_widgets import CanvasLabeler, ImageMap, ImageTagger, LabelStore, "
             "plots\n"
             "from geolabel_widgets.demo import demo_images\n\n"
             "store = LabelStore.open('quickstart.sqlite')\n"
             "images = store.add_images(demo_images(), dataset='Outer Banks (synthetic)')\n"
             "store.images[['name', 'width', 'height', 'bands', 'dtype', 'lon', 'lat']].head(3)"),
    ("md", "**2. Tag a few.** Click the image, then press **1** for *present*, **2** for "
           "*not present*, **s** to skip, **z** to undo, **←/→** to move. A script can tag "
           "too; here it tags the first three images, as pressing 1, 2, 1 would."),
    ("code", "TAGS = store.add_task('Buildings present?', classes=['present', 'not present'])\n"
             "for image_id, value in zip(images, ['present', 'not present', 'present']):\n"
             "    store.tag(image_id, value, task=TAGS, labeler='you')\n"
             "ImageTagger(store, task=TAGS, labeler='you')"),
    ("md", "**3. Draw a polygon.** With the mouse over the image press **p**, click the "
           "vertices and press **Enter**; **1-5** pick the class, **b** draws boxes, **d** "
           "doodles. One water polygon is drawn from code first, in full-resolution pixels; the "
           "store keeps its longitude and latitude too."),
    ("code", "SHAPES = store.add_task('Land cover', type='semantic_segmentation',\n"
             "                        classes=['water', 'surf', 'sand', 'vegetation', "
             "'buildings'])\n"
             "water = Polygon([(0, 0), (120, 0), (60, 255), (0, 255)])\n"
             "store.annotate(images[0], water, 'water', task=SHAPES, labeler='you')\n"
             "canvas = CanvasLabeler(store, task=SHAPES, labeler='you')\n"
             "canvas.open_image(images[0])  # the image with the polygon\n"
             "canvas"),
    ("md", "**4. See where they lie.** Footprints coloured by status; hover for a name, click "
           "for a thumbnail and the labels."),
    ("code", "ImageMap(store, task=TAGS, color_by='status')"),
    ("md", "**5. What has been labeled.** Two of the Coast Train distribution figures, from "
           "counts the store keeps current (`04_distributions` has all of them)."),
    ("code", "display(plots.figures.images_per_class(store))\n"
             "plots.figures.location_map(store)"),
])

notebook("01_tag_images", [
    ("md", "# Tagging images\n\nThe Image Labeler workflow inside Jupyter: go through the images "
           "of an event and mark each *present* or *not present*. Data: the **synthetic** demo "
           "event, and real coastal photos where the reference data is present."),
    ("code", "import os\nfrom pathlib import Path\n\n"
             "from geolabel_widgets import ImageTagger, LabelStore, demo_store\n"
             "from geolabel_widgets.demo import EVENT_TASK\n\n"
             "store = demo_store()"),
    ("md", "Keys: **1** present, **2** not present, **s** skip, **z** undo, **y** redo, "
           "**u** first unlabeled, **←/→** move, **r** review mode (then **a** accept, "
           "**x** needs improvement). Click the image first so the widget has the keyboard."),
    ("code", "tagger = ImageTagger(store, task=EVENT_TASK, labeler='you')\ntagger"),
    ("md", "Where you are, and what the store holds for you:"),
    ("code", "print(f'{tagger.labeled} of {tagger.total} labeled; now at {tagger.position + 1}')\n"
             "store.statuses(EVENT_TASK).query(\"labeler == 'you'\").tail()"),
    ("md", "## Filters\n\nOnly images someone tagged *present*, in a random but repeatable "
           "order, for a second look in review mode:"),
    ("code", "second_look = ImageTagger(store, task=EVENT_TASK, labeler='reviewer', "
             "value='present',\n"
             "                           order='random', seed=1)\n"
             "second_look"),
    ("md", "## Real images\n\nReal aerial beach photos and a 3-band GeoTIFF (from the "
           "holodoodler examples), where `../shared/data` is present."),
    ("code", "real = Path(os.environ.get('GEOLABEL_SHARED_DATA', '../../shared/data')) / "
             "'imagery'\n"
             "if real.is_dir():\n"
             "    real_store = LabelStore.open(Path.home() / '.cache' / 'geolabel_widgets' / "
             "'real.sqlite')\n"
             "    real_ids = real_store.add_images(real, dataset='holodoodler examples')\n"
             "    display(ImageTagger(real_store, task='beach visible?', labeler='you'))\n"
             "else:\n"
             "    print(f'no reference data at {real}; the demo event above is enough')"),
])

notebook("02_draw_labels", [
    ("md", "# Drawing labels\n\nBoxes, polygons (with holes) and points for object detection "
           "and instance segmentation; brush **doodles** that become a dense mask, as Doodler "
           "made Coast Train's labels. Data: the **synthetic** demo scenes (none of it is real "
           "imagery)."),
    ("code", "import matplotlib.pyplot as plt\nimport numpy as np\n\n"
             "from geolabel_widgets import CanvasLabeler, demo_store\n"
             "from geolabel_widgets.demo import SEGMENTATION_TASK\n\n"
             "store = demo_store()\n"
             "NAIP = 'NAIP Cape Canaveral FL (synthetic)'\n"
             "CLASSES = ['water', 'whitewater', 'sediment', 'vegetated_surface', 'development']"),
    ("md", "## The canvas\n\nKeep the mouse over the image and press a key: **b** box, "
           "**p** polygon (click the vertices, click the first one or press **Enter** to close; "
           "hold **shift** on the first click of a ring inside a polygon to cut a hole), "
           "**o** point, **d** brush, **e** eraser, **v** select (drag to move, drag a corner "
           "to edit, **⌫** deletes, a digit changes its class). **1-5** choose the class, "
           "**z**/**y** undo and redo, the wheel zooms, dragging with **space** or **ctrl** "
           "pans, **←/→** move through the images.\n\n"
           "Doodle two or more classes and the predicted mask appears over the image; add "
           "strokes where it is wrong, then **a** saves the mask and its doodles."),
    ("code", "canvas = CanvasLabeler(store, task=SEGMENTATION_TASK, labeler='you', "
             "dataset=NAIP,\n"
             "                       classes=CLASSES)\ncanvas"),
    ("md", "Everything drawn is already in the store, one row per shape, in full-resolution "
           "pixels and (for georeferenced images) in longitude and latitude:"),
    ("code", "store.get_annotations(task=SEGMENTATION_TASK, labeler='you',\n"
             "                      kinds=['box', 'polygon', 'point', 'stroke'])"
             "[['image_id', 'kind', 'value', 'geometry', 'world_geometry']]"),
    ("md", "## Doodles to a mask, from a script\n\n`doodles_to_mask` is a plain function on "
           "numpy arrays with Coast Train's NPZ conventions (doodles: 0 not doodled, k class "
           "k-1; label: class indices). Here, on a demo scene with strokes simulated inside "
           "each true region:"),
    ("code", "from geolabel_widgets.demo import coastal_scene, simulate_doodles\n"
             "from geolabel_widgets.segment import doodles_to_mask\n\n"
             "rng = np.random.default_rng(4)\n"
             "image, truth = coastal_scene(rng, 512)\n"
             "doodles = simulate_doodles(truth, rng, width=4)\n"
             "label = doodles_to_mask(image, doodles)\n"
             "print(f'{(doodles > 0).mean():.1%} of pixels doodled; '\n"
             "      f'{(label == truth).mean():.1%} of pixels match the truth')"),
    ("code", "fig, axes = plt.subplots(1, 4, figsize=(14, 4), constrained_layout=True)\n"
             "shown = np.ma.masked_equal(doodles, 0)\n"
             "for ax, data, title in zip(axes, [image, shown, label, truth],\n"
             "                           ['image (synthetic)', 'doodles', 'predicted', "
             "'truth']):\n"
             "    ax.imshow(data, cmap=None if data is image else 'tab10', vmin=0, "
             "vmax=9, interpolation='nearest')\n"
             "    ax.set_title(title)\n    ax.axis('off')"),
    ("md", "## Real images\n\nWhere `../shared/data` is present: real aerial orthomosaics and "
           "a 3-band GeoTIFF (from the holodoodler examples), to draw on."),
    ("code", "import os\nfrom pathlib import Path\n\n"
             "from geolabel_widgets import LabelStore\n\n"
             "real = Path(os.environ.get('GEOLABEL_SHARED_DATA', '../../shared/data')) / "
             "'imagery'\n"
             "if real.is_dir():\n"
             "    real_store = LabelStore.open(Path.home() / '.cache' / 'geolabel_widgets' / "
             "'real.sqlite')\n"
             "    real_store.add_images(real, dataset='holodoodler examples', progress=False)\n"
             "    display(CanvasLabeler(real_store, task='Land cover (real images)', "
             "labeler='you',\n"
             "                          classes=['water', 'whitewater', 'sand', 'vegetation']))\n"
             "else:\n"
             "    print(f'no reference data at {real}; the demo scenes above are enough')"),
])

notebook("03_map_images", [
    ("md", "# Where the images lie\n\n"
           "`ImageMap` draws every image's footprint from the store, coloured by its status, "
           "dataset, class or labeler. It stays quick with 100,000 images: with many in view it "
           "shows counts per cell, and footprints once you zoom in. Without a tile server (an "
           "air-gapped cluster) the footprints show on a plain background. This notebook uses "
           "the **synthetic demo dataset**: scenes drawn along real coastlines, not real "
           "imagery."),
    ("code", "from geolabel_widgets import ImageMap, LabelingApp, demo_store\n"
             "from geolabel_widgets.demo import EVENT_TASK, SEGMENTATION_TASK\n\n"
             "store = demo_store()\n"
             "m = ImageMap(store, task=SEGMENTATION_TASK, color_by='class')\n"
             "m"),
    ("md", "Hover a footprint for its name and label; click it for its thumbnail, metadata and "
           "labels, and **show on map** to lay the image over its footprint. Small footprints "
           "show as points until you zoom in. The **colour by** menu switches the colouring; "
           "so does the trait:"),
    ("code", "m.color_by = 'dataset'"),
    ("md", "## Choose what to label by drawing on the map\n\n"
           "Draw a rectangle or polygon with the tools on the left: the images it meets become "
           "`m.selection`, a trait any widget can observe. The same from Python:"),
    ("code", "from shapely.geometry import box\n\n"
             "selected = m.select_area(box(-80.72, 28.6, -80.5, 28.9))  # part of Cape Canaveral\n"
             "len(selected), store.images.loc[selected[:3], ['name', 'dataset']]"),
    ("md", "## Label beside the map\n\n"
           "`LabelingApp` puts the map beside the tagger (`mode='tag'`) or the canvas "
           "(`mode='draw'`). The image being labeled is outlined in red and followed; a "
           "selection drawn on the map becomes the queue (clear it to go back); a click on a "
           "footprint opens that image; each label recolours its footprint as it is saved."),
    ("code", "app = LabelingApp(store, task=EVENT_TASK, labeler='you', mode='tag',\n"
             "                  display_size=384)\n"
             "app"),
    ("md", "Labels written anywhere in this kernel recolour the map, not only the app's own. "
           "Here a script tags the app's current image:"),
    ("code", "current = app.labeler_widget.current\n"
             "store.tag(current, 'present', task=EVENT_TASK, labeler='you')\n"
             "app.map.palette.counts()"),
    ("md", "## The image itself on the map\n\n"
           "A georeferenced image is warped to Web Mercator and laid where its CRS and "
           "transform put it:"),
    ("code", "overlay = app.map.show_image(current)\n"
             "overlay.bounds"),
    ("md", "## A real GeoTIFF\n\nWhere `../shared/data` is present: a real 3-band aerial "
           "GeoTIFF (EPSG:6347, from the holodoodler examples) laid on the map where its "
           "georeference puts it."),
    ("code", "import os\nfrom pathlib import Path\n\n"
             "from geolabel_widgets import LabelStore\n\n"
             "geotiff = Path(os.environ.get('GEOLABEL_SHARED_DATA', '../../shared/data')) / "
             "'imagery' / 'examplegeotiff.tif'\n"
             "if geotiff.exists():\n"
             "    real_store = LabelStore.open(Path.home() / '.cache' / 'geolabel_widgets' / "
             "'real.sqlite')\n"
             "    [real_id] = real_store.add_images(geotiff, dataset='holodoodler examples', "
             "progress=False)\n"
             "    real_map = ImageMap(real_store, basemap=None)\n"
             "    real_map.show_image(real_id)\n"
             "    display(real_map)\n"
             "else:\n"
             "    print(f'no reference data at {geotiff}')"),
])

notebook("04_distributions", [
    ("md", "# Distribution figures\n\nThe figures of the Coast Train data release "
           "(CoastTrainMetaPlots), for any store: classes, super-classes, labelers, pixels, "
           "doodling, locations, and agreement between labelers. Each comes with its data "
           "as a DataFrame (`plots.frames`), so you can restyle it. The store keeps the "
           "counts behind them current as labels are written, so they are instant at any "
           "size.\n\nFirst the **synthetic** demo store."),
    ("code", "from geolabel_widgets import demo_store\n"
             "from geolabel_widgets.plots import figures, frames\n\n"
             "store = demo_store()"),
    ("md", "## Classes\n\nImages containing each class, one panel per dataset:"),
    ("code", "figures.images_per_class(store)"),
    ("md", "Each demo dataset names its classes its own way, as the Coast Train records do. "
           "A **class view** maps them to super-classes without touching the labels (merge: "
           "several names to one; rename; split: the same name to different classes in "
           "different datasets):"),
    ("code", "store.remap('superclasses', {\n"
             "    'sand': 'sediment', 'vegetated': 'vegetation', 'vegetated_surface': "
             "'vegetation',\n"
             "    'buildings': 'developed', 'development': 'developed', 'surf': 'whitewater',\n"
             "})\n"
             "figures.images_per_class(store, view='superclasses')"),
    ("code", "figures.images_per_class_overall(store, view='superclasses')"),
    ("md", "The numbers behind a figure:"),
    ("code", "frames.class_frame(store, view='superclasses').pivot_table(\n"
             "    index='class', columns='dataset', values='images', fill_value=0)"),
    ("md", "## Labelers, pixels and doodling"),
    ("code", "figures.images_per_labeler(store)"),
    ("code", "figures.megapixels_per_labeler(store)"),
    ("code", "figures.megapixels_vs_doodled(store)"),
    ("md", "## Where the images are\n\nThe background is cartopy's bundled Natural Earth "
           "image, so the maps draw offline."),
    ("code", "figures.images_by_lat_and_lon(store)"),
    ("code", "figures.density_map(store)"),
    ("code", "figures.location_map(store, satellite=True)"),
    ("md", "## Mask pixels and agreement\n\nThe share of each class in the stored masks, and, "
           "where two labelers labeled the same image, how much they agree (Cohen's kappa of "
           "their tags, IoU of their masks)."),
    ("code", "figures.class_proportions(store)"),
    ("code", "frames.agreement_frame(store)"),
    ("code", "figures.labeler_agreement(store)"),
    ("md", "## The real Coast Train metadata\n\nWhere `../shared/data` is present: the ten "
           "records' metadata CSVs, read as a catalogue (no imagery needed), and the "
           "super-class remap files. `geolabel plots --store PATH OUTDIR` writes all of these "
           "as PNG."),
    ("code", "import os, tempfile\n"
             "from pathlib import Path\n\n"
             "from geolabel_widgets import LabelStore\n"
             "from geolabel_widgets.formats import read_coasttrain\n"
             "from geolabel_widgets.store.remap import read_remap_files\n\n"
             "coasttrain = Path(os.environ.get('GEOLABEL_SHARED_DATA', '../../shared/data')) "
             "/ 'coasttrain'\n"
             "real = None\n"
             "if coasttrain.is_dir():\n"
             "    real = LabelStore.open(Path(tempfile.mkdtemp()) / 'coasttrain.sqlite')\n"
             "    for csv in sorted((coasttrain / 'metadata').glob('*.csv')):\n"
             "        read_coasttrain(real, csv)\n"
             "    real.remap('superclasses', read_remap_files(sorted((coasttrain / "
             "'remap').glob('*.json'))))\n"
             "    display(frames.dataset_frame(real))\n"
             "else:\n"
             "    print(f'no Coast Train metadata at {coasttrain}')"),
    ("code", "if real is not None:\n"
             "    display(figures.images_per_class(real, view='superclasses'))\n"
             "    display(figures.images_per_labeler(real))\n"
             "    display(figures.density_map(real))"),
])

notebook("05_import_export", [
    ("md", "# Formats in and out\n\n"
           "Labels arrive from other systems and leave for training. Each format has a reader "
           "into the store and a writer out of it (`geolabel_widgets.formats`, and `geolabel "
           "import FORMAT SRC` / `geolabel export FORMAT DEST` on the command line): Coast "
           "Train records (CSV and NPZ), Veda releases, DataGym exports, S3Label databases, "
           "Image Labeler downloads, GeoJSON, GeoParquet, COCO, YOLO, Label Studio and STAC. "
           "An import is one "
           "transaction: a bad file stops it with a message naming what is wrong, and the "
           "store is as it was. Data: the **synthetic** demo store."),
    ("code", "import tempfile\nfrom pathlib import Path\n\n"
             "import geopandas as gpd\n\n"
             "from geolabel_widgets import LabelStore, demo_store\n"
             "from geolabel_widgets.demo import EVENT_TASK, SEGMENTATION_TASK\n"
             "from geolabel_widgets import formats\n\n"
             "store = demo_store()\n"
             "out = Path(tempfile.mkdtemp())\n"
             "sorted(formats.READERS), sorted(formats.WRITERS)"),
    ("md", "## Out: a Coast Train record, an Image Labeler download, GeoParquet\n\n"
           "The segmentation task's masks and doodles as a Coast Train record (the metadata "
           "CSV and one NPZ per image and labeler, with the same keys), the event's tags as "
           "an Image Labeler download (present / not present / unlabeled), and every label "
           "with its footprint as GeoParquet."),
    ("code", "record = formats.write_coasttrain(store, out / 'Demo_5_001.zip', "
             "task=SEGMENTATION_TASK)\n"
             "formats.write_imagelabeler(store, out / 'plumes.zip', task=EVENT_TASK)\n"
             "formats.write_geoparquet(store, out / 'labels.parquet')\n"
             "record[['image_filename', 'annotation_image_filename', "
             "'classes_present_array', 'doodle_spatial_density']].head(3)"),
    ("code", "gpd.read_parquet(out / 'labels.parquet')"
             "[['image', 'task', 'labeler', 'class', 'status', 'geometry']].head()"),
    ("md", "## In: the same files, into a new store\n\n"
           "Reading the record back gives the masks (with their per-class pixel counts), the "
           "doodles and the Doodler settings; the download gives the event's tags."),
    ("code", "again = LabelStore.open(out / 'again.sqlite')\n"
             "formats.read_coasttrain(again, out / 'Demo_5_001.zip', task=SEGMENTATION_TASK)\n"
             "formats.read_imagelabeler(again, out / 'plumes.zip')\n"
             "again.stats()['datasets']"),
    ("md", "## For training: a YOLO folder\n\n"
           "A detection task with two boxes and one box turned 30° (a rotated box: press **r** "
           "on a selected box in the canvas), out as YOLO: `images/`, `labels/` (a box is "
           "`class cx cy w h`, a rotated box its four corners, as YOLO OBB has them) and "
           "`data.yaml`."),
    ("code", "from shapely.geometry import box\n\n"
             "from geolabel_widgets import ImageMap, rotated_box\n\n"
             "BOXES = store.add_task('Plumes (boxes, synthetic demo)', type='detection',\n"
             "                       classes=['plume', 'breaking wave'])\n"
             "first, second = store.queue(BOXES, None, status=None)[:2]\n"
             "store.annotate(first, box(20, 30, 90, 80), 'plume', task=BOXES, labeler='ann', "
             "kind='box')\n"
             "store.annotate(first, rotated_box(160, 120, 60, 20, 30), 'breaking wave', "
             "task=BOXES,\n"
             "               labeler='ann', kind='rotated_box')\n"
             "store.annotate(second, box(40, 40, 120, 100), 'plume', task=BOXES, "
             "labeler='ann', kind='box')\n"
             "formats.write_yolo(store, out / 'yolo', task=BOXES)\n"
             "print((out / 'yolo' / 'data.yaml').read_text())\n"
             "for labels in sorted((out / 'yolo' / 'labels').glob('*.txt')):\n"
             "    print(labels.name, labels.read_text(), sep='\\n')"),
    ("md", "## A STAC catalogue, on the map\n\n"
           "The same task as a STAC catalogue: an item per image and a label item per labeled "
           "image (label extension: its shapes as GeoJSON in lon/lat, `rel=source` to the "
           "image's item). Read into a new store, it is a catalogue of scenes with their "
           "labels, shown on the map; `geolabel import stac catalog.json` does the same."),
    ("code", "formats.write_stac(store, out / 'stac', task=BOXES)\n"
             "catalogued = LabelStore.open(out / 'catalogued.sqlite')\n"
             "formats.read_stac(catalogued, out / 'stac' / 'catalog.json', task=BOXES)\n"
             "ImageMap(catalogued, task=BOXES, basemap=None)"),
    ("md", "## A bad file changes nothing\n\n"
           "An archive member that would land outside its folder, a malformed label, a "
           "class the file does not define: the import stops, says where, and writes nothing."),
    ("code", "import io, tarfile\n\n"
             "evil = out / 'evil.tar.gz'\n"
             "with tarfile.open(evil, 'w:gz') as tar:\n"
             "    member = tarfile.TarInfo('release/../../outside.txt')\n"
             "    member.size = 4\n"
             "    tar.addfile(member, io.BytesIO(b'evil'))\n"
             "before = len(again.images)\n"
             "try:\n"
             "    formats.read_veda(again, evil)\n"
             "except formats.FormatError as err:\n"
             "    print(err)\n"
             "assert len(again.images) == before"),
    ("md", "## The real Coast Train metadata\n\nWhere `../shared/data` is present: the ten "
           "records' CSVs, each a catalogue of images with their footprints, labelers and "
           "classes present, as `geolabel import coasttrain CSV --store PATH` reads them."),
    ("code", "import os\n\n"
             "metadata = Path(os.environ.get('GEOLABEL_SHARED_DATA', '../../shared/data')) / "
             "'coasttrain' / 'metadata'\n"
             "if metadata.is_dir():\n"
             "    real = LabelStore.open(out / 'coasttrain.sqlite')\n"
             "    for csv in sorted(metadata.glob('*.csv')):\n"
             "        formats.read_coasttrain(real, csv)\n"
             "    display({name: counts['images'] for name, counts in "
             "real.stats()['datasets'].items()})\n"
             "else:\n"
             "    print(f'no Coast Train metadata at {metadata}')"),
])


notebook("06_model_in_the_loop", [
    ("md", "# A model in the loop\n\n"
           "A model's predictions sit beside the labels, never among them: no figure, count or "
           "export takes them for a person's work. The labeler sees the model's class, takes "
           "it with one key or rejects it with another, and works through the images the "
           "model doubts most first. The images are the package's **synthetic** sediment-plume "
           "scenes; earlier labelers tagged 40 of the 60."),
    ("code", "from geolabel_widgets import ImageMap, ImageTagger, demo_store\n"
             "from geolabel_widgets.demo import EVENT_TASK\n"
             "from geolabel_widgets.learn import Learner\n\n"
             "store = demo_store()\n"
             "store.get_annotations(task=EVENT_TASK, kinds=['tag'])['value'].value_counts()"),
    ("md", "**The built-in learner.** With no model at hand: colour and texture statistics of "
           "every image (scikit-image, computed once and stored) and a scikit-learn classifier "
           "fitted on the tags so far. It predicts every untagged image, with a score per "
           "class; its predictions are rows of the model `learner`."),
    ("code", "learner = Learner(store, EVENT_TASK)\n"
             "print(learner.fit_predict(), 'images predicted')\n"
             "store.predictions(task=EVENT_TASK, model='learner')[['image_id', 'value', "
             "'score', 'scores']].head()"),
    ("md", "**Label what it doubts first.** `order='uncertain'` puts the images the model is "
           "least sure of first (`spread=True` would take one per dataset and place in turn). "
           "The tagger shows the model's class under each image: **g** takes it as your label "
           "(which prediction it was stays with the label), **n** says it is wrong, **1** / "
           "**2** are your own answer as always. Started, the learner fits again in its own "
           "thread after each tag, so a key never waits for it."),
    ("code", "print(store.uncertainty(EVENT_TASK).sort_values(ascending=False).head(3))\n"
             "learner.start()\n"
             "ImageTagger(store, task=EVENT_TASK, labeler='you', order='uncertain')"),
    ("md", "**Any model.** A function from image ids to a frame of `image_id`, `value` and "
           "`score` runs in the background on a labeler's queue, a batch at a time, with a "
           "progress bar. This one calls a scene a plume where its water is brownish. A model "
           "that raises, hangs or answers wrongly stops with a note; no label depends on it."),
    ("code", "import numpy as np\n"
             "import pandas as pd\n"
             "from PIL import Image\n\n"
             "def brown_water(image_ids):\n"
             "    rows = []\n"
             "    for image_id in image_ids:\n"
             "        rgb = np.asarray(Image.open(store.image(image_id)['uri']).convert('RGB'), "
             "float)\n"
             "        water = rgb[..., 2] > rgb[..., 0]  # bluer than red\n"
             "        brown = (rgb[..., 0] - rgb[..., 2])[~water].mean() if (~water).any() "
             "else 0.0\n"
             "        score = float(1 / (1 + np.exp(-brown / 20)))\n"
             "        rows.append((image_id, 'present' if score > 0.5 else 'not present', "
             "max(score, 1 - score)))\n"
             "    return pd.DataFrame(rows, columns=['image_id', 'value', 'score'])\n\n"
             "run = store.add_model(EVENT_TASK, brown_water, labeler='you', batch=8)\n"
             "run.wait(120)\n"
             "run"),
    ("md", "**Where the model and the labels part ways.** The map coloured by agreement: "
           "green where the labels agree with the model's most confident class, red where "
           "they do not, violet where no one has labeled yet. `color_by='confidence'` shows "
           "how sure it is; `'prediction'` its class."),
    ("code", "ImageMap(store, task=EVENT_TASK, color_by='agreement', basemap=None)"),
    ("md", "Files that carry scores read as predictions too: `geolabel import yolo RUNS "
           "--predictions` (lines with a confidence), `geolabel import coco results.json "
           "--predictions --ground-truth dataset.json`, `geolabel import labelstudio "
           "export.json --predictions`, `geolabel import vector detections.geojson "
           "--predictions --score-property score`."),
    ("code", "learner.stop()\n"
             "store.predictions(task=EVENT_TASK).groupby('model')['score'].describe()"),
])
