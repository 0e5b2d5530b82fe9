"""One module per outside format, each with a reader into the store and a writer out.

``READERS`` and ``WRITERS`` map a format's name to its functions; the CLI
dispatches through them.
"""

from .coasttrain import read_coasttrain
from .folder import read_folder, write_folder

READERS = {"coasttrain": read_coasttrain, "folder": read_folder}
WRITERS = {"folder": write_folder}

__all__ = ["READERS", "WRITERS", "read_coasttrain", "read_folder", "write_folder"]
