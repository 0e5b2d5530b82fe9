"""Figures shown as images when a notebook cell returns one.

The figures are plain ``matplotlib.figure.Figure`` objects, never registered
with pyplot (so nothing is drawn twice or kept alive after use). IPython only
knows how to show a Figure once pyplot's inline backend has set itself up, so
without this a cell shows ``<Figure size ... with 6 Axes>``.
"""

from __future__ import annotations

from matplotlib.figure import Figure


def show_figures_as_images() -> None:
    """Give Figure a PNG form in the running IPython, if there is one."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    png.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))
