"""A file server on 127.0.0.1 that answers HTTP range requests, as object stores do,
and counts the bytes it sends: for reading cloud-optimised GeoTIFFs as from a bucket."""

import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _RangeHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        wanted = self.headers.get("Range")
        start, end = 0, len(data) - 1
        if wanted and wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start, end = int(first), min(int(last or len(data) - 1), len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:end + 1]
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.sent += len(body)

    def do_HEAD(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()


@contextmanager
def serving(folder: Path):
    """``folder``'s files at the yielded server's ``url`` (its ``sent``: bytes so far)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_RangeHandler,
                                                          directory=str(folder)))
    server.sent = 0
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
