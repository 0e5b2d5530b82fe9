"""Reading images of any kind, their georeference and their display form.

Imports nothing else of the package, so that the store, the formats and the
widgets can all use it.
"""
