"""Label Studio's brush masks: its own run-length code of an RGBA image, not COCO's.

The ``rle`` list is bytes read as bits, most significant first: 32 bits for the
number of values (height x width x 4, RGBA flattened), 5 for the word size less one,
four 4-bit run-length sizes less one, then blocks. A block opens with one bit: 1 is
a run (2 bits choose a run-length size, that many bits give the run length less
one, then one word its value), 0 is literal (the same length field, then that many
words). A pixel is painted where its alpha is not 0.
"""

from __future__ import annotations

import numpy as np

from .safety import FormatError

RUN_SIZES = (3, 4, 8, 16)  # bits for a run length less one, as Label Studio writes them
WORD = 8


def decode_brush(rle, height: int, width: int, where: str) -> np.ndarray:
    """The painted pixels of a brush result, as an (h, w) 0/1 array."""
    if not isinstance(rle, list) or not rle or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256 for v in rle):
        raise FormatError(f"{where}: its brush rle is not a list of bytes")
    bits = (np.unpackbits(np.asarray(rle, np.uint8)) + 48).tobytes().decode("ascii")
    reader = _Bits(bits, where)
    total = reader.read(32)
    if total != height * width * 4:
        raise FormatError(f"{where}: its brush mask holds {total} values, not the "
                          f"{height} x {width} x 4 of its image")
    word = reader.read(5) + 1
    sizes = [reader.read(4) + 1 for _ in range(4)]
    out = np.zeros(total, np.uint8)
    i = 0
    while i < total:
        run = reader.read(1)
        end = i + 1 + reader.read(sizes[reader.read(2)])
        if end > total:
            raise FormatError(f"{where}: its brush rle runs past the image")
        if run:
            out[i:end] = reader.read(word)
        else:
            out[i:end] = [reader.read(word) for _ in range(end - i)]
        i = end
    return (out.reshape(height, width, 4)[:, :, 3] > 0).astype(np.uint8)


def encode_brush(painted: np.ndarray) -> list[int]:
    """The brush rle of a 0/1 (h, w) array, painted white and opaque."""
    values = np.repeat(np.where(painted.ravel() > 0, 255, 0).astype(np.uint8), 4)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.diff(np.r_[starts, len(values)])
    parts = [f"{len(values):032b}", f"{WORD - 1:05b}", *(f"{s - 1:04b}" for s in RUN_SIZES)]
    longest = 1 << RUN_SIZES[-1]
    for start, length in zip(starts, lengths):
        value = f"{values[start]:08b}"
        while length > 0:
            piece = min(length, longest)
            size = next(k for k, s in enumerate(RUN_SIZES) if piece - 1 < 1 << s)
            parts.append(f"1{size:02b}{piece - 1:0{RUN_SIZES[size]}b}{value}")
            length -= piece
    bits = "".join(parts)
    bits += "0" * (-len(bits) % 8)
    return np.packbits(np.frombuffer(bits.encode("ascii"), np.uint8) - 48).tolist()


class _Bits:
    def __init__(self, bits: str, where: str):
        self.bits, self.at, self.where = bits, 0, where

    def read(self, size: int) -> int:
        if self.at + size > len(self.bits):
            raise FormatError(f"{self.where}: its brush rle ends too soon")
        value = int(self.bits[self.at:self.at + size], 2)
        self.at += size
        return value
