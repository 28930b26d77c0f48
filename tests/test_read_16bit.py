"""16-bit images read at full precision: the sample k reads as k / 65535, not as the 8-bit
level nearest to it. The files are written here, byte by byte where PIL cannot write them
(16-bit RGB)."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.data import decode_image, read_image

# Neighbouring 16-bit levels, all of which an 8-bit reading would merge into 4/255 or 5/255.
LEVELS = np.array([[1000, 1001, 1002], [1003, 1200, 1201]])
RGB = np.stack([LEVELS, LEVELS + 7, 65535 - LEVELS], axis=-1)  # (2, 3, 3): H, W, C


def _expected(values: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, 3)`` 16-bit samples → ``(3, H, W)`` float32 ``k / 65535``."""
    x = torch.from_numpy(values / 65535).float()
    return x.expand(3, -1, -1) if x.dim() == 2 else x.permute(2, 0, 1)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_rgb16_png(path, rgb: np.ndarray) -> None:
    """A 16-bit RGB PNG, each row with the Sub filter (byte minus the byte one 6-byte pixel
    to its left), which decodes right only with the true pixel size."""
    h, w, _ = rgb.shape
    rows = np.frombuffer(rgb.astype(">u2").tobytes(), np.uint8).reshape(h, w * 6).astype(np.int64)
    left = np.pad(rows, ((0, 0), (6, 0)))[:, :-6]
    filtered = np.concatenate([np.ones((h, 1), np.int64), (rows - left) % 256], axis=1).astype(np.uint8)
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)  # 16 bits, truecolour, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(filtered.tobytes())) + _png_chunk(b"IEND", b""))


def _write_rgb16_tiff(path, rgb: np.ndarray, big_endian: bool, deflate: bool) -> None:
    """A one-strip 16-bit RGB TIFF; deflate-compressed ones go through PIL's libtiff decoder."""
    e = ">" if big_endian else "<"
    h, w, _ = rgb.shape
    data = rgb.astype(f"{e}u2").tobytes()
    data = zlib.compress(data) if deflate else data
    ifd_at = 16 + len(data) + len(data) % 2  # header (8), BitsPerSample values (8), pixels

    def entry(tag: int, kind: int, value: int, count: int = 1) -> bytes:
        packed = struct.pack(f"{e}HH", value, 0) if kind == 3 and count == 1 else struct.pack(f"{e}I", value)
        return struct.pack(f"{e}HHI", tag, kind, count) + packed

    entries = [entry(256, 4, w), entry(257, 4, h), entry(258, 3, 8, 3), entry(259, 3, 8 if deflate else 1),
               entry(262, 3, 2), entry(273, 4, 16), entry(277, 3, 3), entry(278, 4, h),
               entry(279, 4, len(data)), entry(284, 3, 1)]
    ifd = struct.pack(f"{e}H", len(entries)) + b"".join(entries) + struct.pack(f"{e}I", 0)
    head = (b"MM" if big_endian else b"II") + struct.pack(f"{e}HI", 42, ifd_at) + struct.pack(f"{e}4H", 16, 16, 16, 0)
    path.write_bytes((head + data).ljust(ifd_at, b"\0") + ifd)


def test_16bit_grey_png_keeps_neighbouring_levels_apart(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(LEVELS.astype(np.uint16)).save(path)
    x = read_image(path)
    assert torch.equal(x, _expected(LEVELS))
    assert x[0, 0, 0] < x[0, 0, 1] < x[0, 0, 2]  # 1000, 1001, 1002: one 8-bit level apart would be 257


def test_16bit_rgb_png_reads_every_channel_at_full_precision(tmp_path):
    path = tmp_path / "rgb16.png"
    _write_rgb16_png(path, RGB)
    assert Image.open(path).mode == "RGB"  # PIL itself would keep 8 bits of each sample
    x, notes = decode_image(path)
    assert torch.equal(x, _expected(RGB)) and notes == []


@pytest.mark.parametrize("big_endian, deflate", [(False, False), (True, False), (False, True), (True, True)])
def test_16bit_rgb_tiff_reads_at_full_precision(tmp_path, big_endian, deflate):
    path = tmp_path / "rgb16.tif"
    _write_rgb16_tiff(path, RGB, big_endian, deflate)
    assert torch.equal(read_image(path), _expected(RGB))


def test_16bit_images_stay_16bit_through_crop_and_resize(tmp_path):
    grey, rgb = tmp_path / "grey16.png", tmp_path / "rgb16.png"
    Image.fromarray(np.full((12, 16), 1001, dtype=np.uint16)).save(grey)
    _write_rgb16_png(rgb, np.broadcast_to(RGB[0, :1], (12, 16, 3)))
    for path, level in [(grey, torch.full((3, 1, 1), 1001 / 65535)), (rgb, _expected(RGB[:1, :1]))]:
        x, notes = decode_image(path, size=8)  # centre-crop 16×12 → 12×12, then resize to 8×8
        assert any("resized" in n for n in notes) and x.shape == (3, 8, 8)
        torch.testing.assert_close(x, level.expand(3, 8, 8), atol=1e-6, rtol=0)
        torch.testing.assert_close(read_image(path, crop=(2, 1, 4)), level.expand(3, 4, 4), atol=0, rtol=0)
