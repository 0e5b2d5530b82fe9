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


class ScreenView:
    """The browser half of a ``ScreenEcho``: answers each "is it shown?" at once, as a
    browser that draws instantly would, or holds the answers while ``lagging``."""

    def __init__(self, echo):
        self.echo, self.lagging, self._held = echo, False, []
        echo.send = self._receive
        echo._on_message(echo, {"type": "view"}, [])  # a view is here

    def _receive(self, content: dict, buffers=None) -> None:
        self._held.append(content["n"])
        if not self.lagging:
            self.catch_up()

    def catch_up(self) -> None:
        """The browser has drawn everything it was sent."""
        self.lagging = False
        for n in self._held:
            self.echo._on_message(self.echo, {"type": "shown", "n": n}, [])
        self._held.clear()


class Hand:
    """Mouse and keyboard, in screen pixels of the canvas (image pixel = screen / scale),
    on a page that shows the canvas (``screen`` plays its view)."""

    def __init__(self, widget):
        self.widget = widget
        echo = getattr(widget, "_screen", None)
        self.screen = None if echo is None else getattr(echo, "view", None) or ScreenView(echo)
        if echo is not None:
            echo.view = self.screen

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
