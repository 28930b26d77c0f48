"""Images on disk ↔ tensors ``(B, C, H, W)`` in [0, 1]."""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_image(path: str | Path, crop: tuple[int, int, int] | None = None, size: int | None = None) -> torch.Tensor:
    """One RGB image as ``(3, H, W)`` float in [0, 1]; see :func:`decode_image`."""
    return decode_image(path, crop, size)[0]


def decode_image(
    path: str | Path, crop: tuple[int, int, int] | None = None, size: int | None = None, upscale: bool = True
) -> tuple[torch.Tensor, list[str]]:
    """One image as ``(3, H, W)`` float in [0, 1], and what was done to it, in words.

    Any mode PIL opens becomes RGB with its full range mapped to [0, 1]: 1-bit, 8-bit
    and 16-bit grey, palette, CMYK, and images with transparency, which are composited on
    white. 16-bit grey and 16-bit RGB (PNG, TIFF) keep their precision: the sample ``k``
    reads as ``k / 65535`` (and a float image, mode ``F``, as it is), through cropping and
    resizing too. ``crop = (left, top, side)`` cuts a square window first; ``size`` then
    centre-crops to a square and resizes it to ``size × size`` (bicubic, antialiased); with
    ``upscale=False`` an image smaller than that is a ``ValueError`` instead. The notes say
    which of these happened (none for an RGB image read as it is). A missing file raises
    ``FileNotFoundError``; a file PIL cannot decode, or
    larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb), ``ValueError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            planes = _open_planes(path, notes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{path} is larger than the {Image.MAX_IMAGE_PIXELS} pixels invgen decodes "
                         "(a decompression bomb, or an image far too large to reconstruct)") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path} is not an image PIL can read ({err})") from None
    width, height = planes[0].size
    if crop is not None:
        left, top, side = crop
        if left + side > width or top + side > height:
            raise ValueError(f"crop {crop} does not fit in {path} of size {width}×{height}")
        planes = [p.crop((left, top, left + side, top + side)) for p in planes]
        width = height = side
    if size is not None and width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        notes.append(f"centre-cropped from {width}×{height} to {side}×{side}")
        planes = [p.crop((left, top, left + side, top + side)) for p in planes]
        width = height = side
    if size is not None and width < size and not upscale:
        raise ValueError(f"{path} is {width}×{height}, smaller than the {size}×{size} it would be upscaled to")
    if size is not None and (width, height) != (size, size):
        notes.append(f"resized from {width}×{height} to {size}×{size}")
        planes = [p.resize((size, size), Image.BICUBIC) for p in planes]
    return _to_tensor(planes), notes


def read_mask(path: str | Path) -> torch.Tensor:
    """An inpainting mask drawn as an image: ``(H, W)``, 1 where the pixel is known (white)
    and 0 where it is missing (black); grey levels count as known from 0.5 up, so an
    anti-aliased brush edge is split at its middle. Any mode :func:`decode_image` reads.
    ``ValueError`` if no pixel is known."""
    grey = decode_image(path)[0].mean(0)
    mask = (grey >= 0.5).to(torch.float32)
    if not bool(mask.any()):
        raise ValueError(f"{path}: no known pixel (white = known, black = missing); the mask is all black")
    return mask


def read_kernel(path: str | Path) -> torch.Tensor:
    """A blur kernel (point-spread function) ``(kh, kw)`` in float64, normalised to sum 1:
    a ``.npy`` array, or an image (its grey levels, the mean of R, G and B). The tap at
    ``(kh // 2, kw // 2)`` is the centre (see :class:`~invgen.operators.Blur`).
    ``ValueError`` for an array that is not 2-D, has non-finite or negative entries
    (a blur only averages), or sums to 0."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise FileNotFoundError(f"no such kernel file: {path}")
        with open(path, "rb") as file:
            if file.read(6) != b"\x93NUMPY":
                raise ValueError(f"{path} is not a NumPy .npy file (numpy.save writes one)")
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise ValueError(f"{path}: not a plain numeric .npy array ({str(err).splitlines()[0]})") from None
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: expected an array of numbers, got dtype {array.dtype}")
        kernel = torch.from_numpy(np.asarray(array, dtype=np.float64))
    else:
        kernel = decode_image(path)[0].mean(0).double()
    if kernel.dim() != 2:
        raise ValueError(f"{path}: a kernel must be 2-D (kh, kw), got shape {tuple(kernel.shape)}")
    if not bool(torch.isfinite(kernel).all()):
        raise ValueError(f"{path}: the kernel has non-finite entries")
    if bool((kernel < 0).any()):
        raise ValueError(f"{path}: the kernel has negative entries (min {kernel.min().item():.3g}); "
                         "a blur kernel is a non-negative point-spread function")
    if kernel.sum() <= 0:
        raise ValueError(f"{path}: the kernel sums to 0; a blur kernel needs some positive entry")
    return kernel / kernel.sum()


# Modes whose values are not 8-bit, and what maps their full range to [0, 1].
_WIDE_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1}
_MODE_NAMES = {"1": "1-bit", "L": "grey", "LA": "grey", "P": "palette", "PA": "palette"}
# PIL opens 16-bit RGB (PNG, TIFF) as 8-bit RGB: its raw modes keep each sample's high byte.
# Decoding the same data with the opposite byte order keeps the low byte instead.
_OTHER_BYTE_ORDER = {"RGB;16B": "RGB;16L", "RGB;16L": "RGB;16B",
                     "RGB;16N": "RGB;16B" if sys.byteorder == "little" else "RGB;16L"}


def _open_planes(path: Path, notes: list[str]) -> list[Image.Image]:
    """The image at ``path`` as :func:`_to_planes` gives it, or, for 16-bit RGB, as three
    float planes ``R, G, B`` with ``(256·high + low) / 65535`` from the two decodings of
    each sample (see ``_OTHER_BYTE_ORDER``)."""
    with Image.open(path) as img:
        low_tiles = _low_byte_tiles(img)  # read before load(), which empties img.tile
        img.load()
        if low_tiles is None:
            return _to_planes(img, path, notes)
        high = np.asarray(img, dtype=np.float64)
    with Image.open(path) as img:
        img.tile = low_tiles
        img.load()
        low = np.asarray(img, dtype=np.float64)
    return _float_planes((256 * high + low) / 65535)


def _low_byte_tiles(img: Image.Image) -> list | None:
    """For a 16-bit RGB image not yet loaded, its tiles decoding each sample's low byte
    (``(codec, extents, offset, args)``, the raw mode first in ``args`` or ``args`` itself);
    ``None`` for any other image, and for one with a transparent colour (read at 8 bits and
    composited on white by :func:`_to_rgb`)."""
    if img.mode != "RGB" or not img.tile or "transparency" in img.info:
        return None
    tiles = []
    for tile in img.tile:
        args = tile[3]
        rawmode = args if isinstance(args, str) else args[0]
        if rawmode not in _OTHER_BYTE_ORDER:
            return None
        low = _OTHER_BYTE_ORDER[rawmode]
        low_args = low if isinstance(args, str) else (low, *args[1:])
        # PIL ≥ 11 makes tiles named tuples (and its TIFF decoder reads them by name); older, plain ones.
        tiles.append(tile._replace(args=low_args) if hasattr(tile, "_replace") else (*tile[:3], low_args))
    return tiles


def _float_planes(values: np.ndarray) -> list[Image.Image]:
    """``(H, W)`` grey or ``(H, W, 3)`` RGB values in [0, 1] → one float (mode ``F``) PIL
    image per channel."""
    channels = [values] if values.ndim == 2 else [values[..., c] for c in range(values.shape[-1])]
    return [Image.fromarray(np.ascontiguousarray(c, dtype=np.float32)) for c in channels]


def _to_tensor(planes: list[Image.Image]) -> torch.Tensor:
    """One 8-bit RGB PIL image (/255), or float planes in [0, 1] (clipped: bicubic resizing
    overshoots), grey or R, G, B → ``(3, H, W)`` float32."""
    if planes[0].mode == "RGB":
        return torch.from_numpy(np.asarray(planes[0], dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
    x = torch.from_numpy(np.stack([np.asarray(p, dtype=np.float32) for p in planes])).clamp(0, 1)
    return x.expand(3, -1, -1).contiguous()


def _to_planes(img: Image.Image, path: Path, notes: list[str]) -> list[Image.Image]:
    """``img`` as ``[8-bit RGB PIL image]``, or for grey wider than 8 bits ``[float grey
    plane in [0, 1]]`` (PIL's own conversion clips 16-bit grey)."""
    mode = img.mode
    if mode in _WIDE_MODES:
        values = np.asarray(img, dtype=np.float64) / _WIDE_MODES[mode]
        if values.min() < 0 or values.max() > 1:
            raise ValueError(f"{path}: mode {mode} values outside [0, {_WIDE_MODES[mode]}]; "
                             "invgen reads 8- and 16-bit images and float images in [0, 1]")
        notes.append(f"{'16-bit' if mode != 'F' else 'float'} grey ({mode}) converted to RGB")
        return _float_planes(values)
    return [_to_rgb(img, notes)]


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """``img`` (an 8-bit mode) as an 8-bit RGB PIL image."""
    mode = img.mode
    if mode == "RGB":
        return img.copy()  # the opened image is closed on return
    name = f"{_MODE_NAMES.get(mode, mode)} image"
    if "A" in mode or "transparency" in img.info:
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append(f"{name} with transparency composited on white and converted to RGB")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
        img = rgba
    notes.append(f"{name} converted to RGB")
    return img.convert("RGB")


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] (clipped) → ``(H, W, C)`` uint8."""
    return (x.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _to_pil(x: torch.Tensor) -> Image.Image:
    """``(C, H, W)`` in [0, 1] (clipped), C = 1 (grey) or 3 → a PIL image."""
    arr = _to_uint8(x)
    return Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr)


def save_image(x: torch.Tensor, path: str | Path) -> None:
    """Write one ``(C, H, W)`` image in [0, 1] (clipped), grey or colour, as PNG."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _to_pil(x).save(path)


def make_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 2) -> torch.Tensor:
    """Tile ``(B, C, H, W)`` into one ``(C, H', W')`` image, ``nrow`` images a row."""
    b, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(b))
    rows = math.ceil(b / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad, dtype=x.dtype)
    for i, img in enumerate(x.detach().cpu()):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = img
    return grid


def save_grid(x: torch.Tensor, path: str | Path, nrow: int | None = None) -> None:
    """Write a batch ``(B, C, H, W)`` in [0, 1] as one PNG grid."""
    save_image(make_grid(x, nrow), path)


def save_panel(
    images: dict[str, torch.Tensor], path: str | Path, captions: dict[str, str | list[str]] | None = None,
    scale: int = 2,
) -> None:
    """Write images in labelled columns: each value is one image ``(C, h, w)`` or a column of
    ``N`` images ``(N, C, h, w)`` (every column the same ``N``), in [0, 1], grey or colour,
    shown at the size of the largest (nearest-neighbour, so a low-resolution input stays
    visibly blocky), with its name above the column and an optional caption under each tile
    (e.g. PSNR): one string, or one per row."""
    from PIL import ImageDraw

    columns = {name: x.unsqueeze(0) if x.dim() == 3 else x for name, x in images.items()}
    counts = {len(x) for x in columns.values()}
    if len(counts) != 1:
        raise ValueError(f"every column needs the same number of images, got {sorted(counts)}")
    n = counts.pop()
    side = max(x.shape[-1] for x in columns.values()) * scale
    label_h, pad = 14, 4
    row_h = side + (label_h if captions else 0) + pad
    panel = Image.new("RGB", (len(columns) * (side + pad) + pad, pad + label_h + n * row_h), "white")
    draw = ImageDraw.Draw(panel)
    for i, (name, column) in enumerate(columns.items()):
        left = pad + i * (side + pad)
        draw.text((left, pad), name, fill="black")
        caption = (captions or {}).get(name)
        for r, x in enumerate(column):
            top = pad + label_h + r * row_h
            panel.paste(_to_pil(x).resize((side, side), Image.NEAREST), (left, top))
            if caption is not None:
                draw.text((left, top + side + 1), caption if isinstance(caption, str) else caption[r], fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    panel.save(path)
