"""A labeler's kernel, as a separate process: tags images in a loop.

Prints each image id once its ``tag()`` call has returned, so a test that
kills this process knows which tags must be in the store.
"""

import sys

from geolabel_widgets import LabelStore


def main(store_path: str, labeler: str, count: int, offset: int) -> None:
    store = LabelStore.open(store_path)
    ids = store.queue("flood", labeler, status=None)
    for k in range(offset, offset + count):
        image_id = ids[k % len(ids)]
        store.tag(image_id, "present" if k % 2 else "not present", task="flood",
                  labeler=labeler)
        print(f"{image_id} {k}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
