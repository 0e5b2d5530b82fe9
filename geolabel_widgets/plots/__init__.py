"""The class, labeler and geographic distribution figures of the Coast Train data release."""

from .inline import show_figures_as_images
from .figures import FIGURES, save_figures
from .frames import (agreement_frame, class_frame, class_pixel_frame, dataset_frame,
                     gold_frame, labeler_frame, location_frame)

__all__ = ["FIGURES", "save_figures", "agreement_frame", "class_frame", "class_pixel_frame",
           "dataset_frame", "gold_frame", "labeler_frame", "location_frame"]

show_figures_as_images()
