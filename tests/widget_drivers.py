"""The browser halves of our widgets, played from Python (the messages and DOM events
their views send), for tests of the kernel halves."""


class Browser:
    """Collects what the tagger sends to its view."""

    def __init__(self, tagger):
        self.tagger = tagger
        self.sent: list[tuple[dict, list]] = []
        tagger.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def say(self, **content) -> dict:
        self.tagger._on_message(self.tagger, content, [])
        self.tagger.flush()  # writes are applied on the tagger's writer thread
        return self.sent[-1][0]


class Hand:
    """Mouse and keyboard, in screen pixels of the canvas (image pixel = screen / scale)."""

    def __init__(self, widget):
        self.widget = widget

    def send(self, kind, x=0, y=0, **extra):
        self.widget._on_event({"type": kind, "relativeX": x, "relativeY": y, "button": 0,
                               **extra})

    def click(self, x, y, **extra):
        self.send("mousedown", x, y, **extra)
        self.send("mouseup", x, y, **extra)

    def drag(self, points, **extra):
        self.send("mousedown", *points[0], **extra)
        for point in points[1:]:
            self.send("mousemove", *point, **extra)
        self.send("mouseup", *points[-1], **extra)

    def key(self, key, **extra):
        self.send("keydown", key=key, **extra)
        self.send("keyup", key=key, **extra)
