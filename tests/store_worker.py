"""A labeler's kernel, as a separate process, labeling in a loop.

``tag STORE LABELER COUNT OFFSET``: tags images of the task "flood" in turn.
``claim STORE LABELER TASK BATCH``: claims images of TASK, tags them, until none is left;
it says "ready" once the store is open and starts when a line comes on its stdin, so
that several start at once however long each took to import.

Prints each image id once its ``tag()`` call has returned, so a test that kills
this process (or the server under it) knows which tags must be in the store.
"""

import sys

from geolabel_widgets import LabelStore


def tag_in_turn(store_path: str, labeler: str, count: int, offset: int) -> None:
    store = LabelStore.open(store_path)
    ids = store.queue("flood", labeler, status=None)
    for k in range(offset, offset + count):
        image_id = ids[k % len(ids)]
        store.tag(image_id, "present" if k % 2 else "not present", task="flood",
                  labeler=labeler)
        print(f"{image_id} {k}", flush=True)


def tag_claimed(store_path: str, labeler: str, task: str, batch: int) -> None:
    store = LabelStore.open(store_path)
    print("ready", flush=True)
    sys.stdin.readline()
    while claimed := store.claim(task, labeler, batch):
        for image_id in claimed:
            store.tag(image_id, "present", task=task, labeler=labeler)
            print(image_id, flush=True)


if __name__ == "__main__":
    mode, path, labeler, *rest = sys.argv[1:]
    if mode == "tag":
        tag_in_turn(path, labeler, int(rest[0]), int(rest[1]))
    else:
        tag_claimed(path, labeler, rest[0], int(rest[1]))
