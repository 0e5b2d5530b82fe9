"""One module per outside format, each with a reader into the store and a writer out.

``READERS`` and ``WRITERS`` map a format's name to its functions; the CLI
dispatches through them. Every reader writes in one transaction: a bad file
stops it with a ``FormatError`` naming what is wrong, and the store is as it was.
"""

from .coasttrain import read_coasttrain, write_coasttrain
from .coco import read_coco, write_coco
from .datagym import read_datagym, write_datagym
from .doodler import read_doodler, write_doodler
from .folder import read_folder, write_folder
from .geojson import read_geojson, write_geojson
from .geoparquet import read_geoparquet, write_geoparquet
from .imagelabeler import read_imagelabeler, write_imagelabeler
from .s3label import add_images_s3label, read_s3label, write_s3label
from .safety import FormatError
from .seggym import write_seggym
from .vector import read_vector
from .veda import read_veda, write_veda

READERS = {"coasttrain": read_coasttrain, "coco": read_coco, "datagym": read_datagym,
           "doodler": read_doodler,
           "folder": read_folder, "geojson": read_geojson, "geoparquet": read_geoparquet,
           "imagelabeler": read_imagelabeler, "s3label": read_s3label, "vector": read_vector,
           "veda": read_veda}
WRITERS = {"coasttrain": write_coasttrain, "coco": write_coco, "datagym": write_datagym,
           "doodler": write_doodler, "folder": write_folder, "seggym": write_seggym, "geojson": write_geojson, "geoparquet": write_geoparquet,
           "imagelabeler": write_imagelabeler, "s3label": write_s3label, "veda": write_veda}

__all__ = ["READERS", "WRITERS", "FormatError", "add_images_s3label", "read_s3label",
           "write_s3label",
           "read_coasttrain", "read_coco", "read_datagym", "read_doodler", "read_folder", "read_geojson",
           "read_geoparquet", "read_imagelabeler", "read_vector", "read_veda",
           "write_coasttrain", "write_coco", "write_datagym", "write_doodler", "write_folder",
           "write_seggym", "write_geojson",
           "write_geoparquet", "write_imagelabeler", "write_veda"]
