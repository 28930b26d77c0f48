"""What ``invgen reconstruct``'s IMAGE arguments become: the operator, and a reader that decodes
each file the way the command uses it — a clean image to simulate ``y`` from (resized to the
generator's size), or, with ``--measured``, the measurement ``y`` itself (the size policy,
the user's mask and kernel, reflecting borders).

Every image is decoded once up front (:func:`simulated_inputs`, :func:`measured_inputs`), so a
file or size that does not fit is a one-line :class:`~invgen.app.arguments.UsageError` before any
computation; the reconstruction then decodes each chunk again (:meth:`Inputs.batch`), which
keeps memory flat however many images there are.
"""
from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from invgen.app.arguments import UsageError
from invgen.app.tasks import MEASURABLE, image_shape, make_operator, parse_task
from invgen.data import decode_image, read_kernel, read_mask
from invgen.operators import LinearOperator

# The smallest image every metric takes (SSIM's 11×11 window).
MIN_SIZE = 11


@dataclass
class Inputs:
    """The operator of the images and how to read them (``read(path)`` → ``(C, H, W)``):
    clean images (``measured=False``) or measurements ``y``; ``boundary`` of a measured
    blur or SR; ``holes``: a measured inpainting, whose unknown pixels ``batch`` zeroes."""

    A: LinearOperator
    read: Callable[[str], torch.Tensor]
    measured: bool
    boundary: str = "circular"
    holes: bool = False

    def batch(self, paths: list[str], device: torch.device) -> torch.Tensor:
        """The images of ``paths``, ``(B, C, H, W)`` on ``device``: the truth, or ``y`` when measured."""
        images = torch.stack([self.read(path) for path in paths]).to(device)
        return self.A.to(device)(images) if self.holes else images  # a damaged photo's holes are unknown


def output_names(paths: list[str]) -> list[str]:
    """A distinct output name per input image: its stem, or ``stem-K`` (the K-th input with
    that stem) when several inputs share one (``a/face.png``, ``b/face.jpg``)."""
    stems = [Path(p).stem for p in paths]
    repeated, seen = Counter(stems), Counter()
    names = []
    for stem in stems:
        seen[stem] += 1
        names.append(stem if repeated[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def _say(path: str, name: str, notes: list[str], verbose: bool) -> None:
    """One line for an image that was converted, resized or renamed."""
    if verbose and (notes or name != Path(path).stem):
        print(f"{path}{f' (written as {name})' if name != Path(path).stem else ''}: {'; '.join(notes) or 'as is'}")


def measured_boundary(task: str) -> str:
    """The borders of a measured photograph's blur or SR: ``reflect`` (a photo does not wrap
    around); ``circular`` for the other tasks, as in simulated experiments."""
    return "reflect" if parse_task(task)[0] in ("sr", "blur") else "circular"


def check_measured_flags(args: argparse.Namespace, kind: str) -> None:
    """The flags of measured inputs fit the task: ``--mask`` only for inpainting (a measured
    photo's, or the operator of a simulated one), ``--kernel`` only for ``blur`` (no
    ``:SIGMA``) and only with ``--measured``; a measured inpainting needs its mask, a
    measured denoising its noise level."""
    if args.mask is not None and kind != "inpaint":
        raise UsageError(f"--mask marks the known pixels of --task inpaint, not of --task {args.task}")
    if args.kernel is not None and (kind != "blur" or ":" in args.task):
        raise UsageError(f"--kernel is the blur of --task blur (without :SIGMA), not of --task {args.task}")
    if not args.measured:
        if args.kernel is not None:
            raise UsageError("--kernel applies to --measured images (simulated experiments use the task's own "
                             "operator and are resized to the generator's size)")
        return
    if kind not in MEASURABLE:
        raise UsageError(f"--measured takes an image y of --task srF, blur, inpaint or denoise; --task {args.task} "
                         "measures vectors, not images")
    if kind == "inpaint" and args.mask is None:
        raise UsageError("--task inpaint with --measured needs --mask MASK.png, your mask (white = known)")
    if kind == "denoise" and args.noise == 0:
        raise UsageError("--task denoise with --measured needs --noise SIGMA, the noise level of your image "
                         "(in [0, 1] units, e.g. 0.05)")


def read_mask_flag(path: str) -> torch.Tensor:
    """The ``--mask`` file as :func:`~invgen.data.read_mask` reads it, ``(H, W)``, 1 = known;
    :class:`UsageError` naming ``--mask`` when it cannot."""
    try:
        return read_mask(path)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f"--mask: {err}") from None


def simulated_inputs(args: argparse.Namespace, names: list[str], G, verbose: bool = True) -> Inputs:
    """Clean images at the generator's size (or ``--size``), centre-cropped and resized (an
    image smaller than that only with ``--resize``), and the task's operator; with
    ``--mask``, the user's mask (of the images' size) is the inpainting operator."""
    size = G.image_shape()[-1] if G is not None else args.size
    for path, name in zip(args.images, names):
        try:
            _, notes = decode_image(path, size=size, upscale=args.resize)
        except (FileNotFoundError, ValueError) as err:
            hint = ("; a measurement simulated from an upscaled image would score the upscaling — pass a larger "
                    "image, --resize to upscale it anyway, or --measured if it is the low-resolution y itself"
                    if "smaller than" in str(err) else "")
            raise UsageError(f"{err}{hint}") from None
        _say(path, name, notes, verbose)
    mask = None
    if args.mask is not None:
        mask = read_mask_flag(args.mask)
        if tuple(mask.shape) != (size, size):
            source = "the generator's size" if G is not None else "--size"
            raise UsageError(f"--mask {args.mask} is {mask.shape[1]}×{mask.shape[0]} but the images are simulated at "
                             f"{size}×{size} ({source}): the mask must have the size of the image it masks")
    try:
        A = make_operator(args.task, (3, size, size), seed=args.seed, mask=mask)
    except ValueError as err:
        raise UsageError(f"--task: {err}") from None
    return Inputs(A, lambda path: decode_image(path, size=size, upscale=args.resize)[0], measured=False)


def measured_inputs(args: argparse.Namespace, names: list[str], G, verbose: bool = True) -> Inputs:
    """The measured images ``y`` of ``args.images``, their operator and its boundary. With a
    generator ``y`` must measure the generator's size (or ``--resize``); otherwise the
    estimate has the size ``y`` measures. :class:`UsageError` naming the file or flag otherwise."""
    kind, factor = parse_task(args.task)
    factor = int(factor) if kind == "sr" else 1
    expected = None
    if G is not None:
        side = G.image_shape()[-1]
        if side % factor:
            raise UsageError(f"--task {args.task}: the generator's {side}×{side} images are not a multiple of {factor}")
        expected = side // factor
    given, used, resized = [], [], {}  # each image's size on disk and as used, (h, w); resized: path → side
    for path, name in zip(args.images, names):
        try:
            image, notes = decode_image(path)
            given.append(tuple(image.shape[1:]))
            if expected is not None and tuple(image.shape[1:]) != (expected, expected):
                if not args.resize:
                    raise UsageError(
                        f"{path} is {image.shape[2]}×{image.shape[1]}; --task {args.task} with the generator's "
                        f"{expected * factor}×{expected * factor} images expects a {expected}×{expected} measured "
                        "image (pass --resize to resize it, or use a method without a generator: pinv, dip"
                        f"{', bicubic' if kind == 'sr' else ''})")
                image, notes = decode_image(path, size=expected)
                resized[path] = expected
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        _say(path, name, notes, verbose)
        used.append(tuple(image.shape[1:]))
    if len(set(used)) > 1:
        listed = ", ".join(f"{p} {w}×{h}" for p, (h, w) in zip(args.images, used))
        raise UsageError(f"--measured images must share one size to run as a batch: {listed}")
    shape = used[0]
    mask = kernel = None
    if args.mask is not None:
        mask = read_mask_flag(args.mask)
        for path, (h, w) in zip(args.images, given):
            if tuple(mask.shape) != (h, w):
                raise UsageError(f"--mask {args.mask} is {mask.shape[1]}×{mask.shape[0]} but {path} is {w}×{h}: "
                                 "the mask marks the pixels of the measured image")
        if tuple(mask.shape) != shape:  # --resize resized the images: the same crop, then nearest
            (h, w), side = mask.shape, min(mask.shape)
            top, left = (h - side) // 2, (w - side) // 2
            mask = torch.nn.functional.interpolate(mask[None, None, top : top + side, left : left + side],
                                                   size=shape, mode="nearest")[0, 0]
            if verbose:
                print(f"--mask {args.mask}: cropped and resized like the images, to {shape[1]}×{shape[0]}")
    if args.kernel is not None:
        try:
            kernel = read_kernel(args.kernel)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(f"--kernel: {err}") from None
    boundary = measured_boundary(args.task)
    try:
        A = make_operator(args.task, image_shape(args.task, (3, *shape)), seed=args.seed, boundary=boundary,
                          mask=mask, kernel=kernel)
    except ValueError as err:
        raise UsageError(f"{'--kernel' if kernel is not None else '--task'}: {err}") from None
    if verbose and kind in ("sr", "blur"):
        print(f"measured photographs: {'super-resolution' if kind == 'sr' else 'blur'} with reflecting borders "
              "(boundary='reflect'; simulated experiments use circular)")
    return Inputs(A, lambda path: decode_image(path, size=resized.get(path))[0], measured=True, boundary=boundary,
                  holes=kind == "inpaint")
