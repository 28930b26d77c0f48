"""Writing images: grey and colour, alone and side by side in a panel."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.data import save_image, save_panel


def test_a_panel_takes_grey_and_colour_tiles(tmp_path):
    grey = torch.full((1, 4, 4), 0.5)  # e.g. an uncertainty map
    colour = torch.zeros(3, 8, 8)
    colour[0] = 1.0
    save_panel({"map": grey, "red": colour}, tmp_path / "panel.png", scale=1)
    with Image.open(tmp_path / "panel.png") as img:
        panel = np.asarray(img.convert("RGB"))
    top = 4 + 14  # pad + label height
    assert tuple(panel[top + 2, 4 + 2]) == (128, 128, 128)  # the grey tile, shown at the largest size (8)
    assert tuple(panel[top + 2, 4 + 8 + 4 + 2]) == (255, 0, 0)
    save_image(grey, tmp_path / "grey.png")
    with Image.open(tmp_path / "grey.png") as img:
        assert img.mode == "L" and img.size == (4, 4)


def test_a_panel_of_columns_has_one_row_per_image_and_refuses_ragged_columns(tmp_path):
    faces = torch.stack([torch.full((3, 8, 8), v) for v in (0.0, 1.0)])  # black, then white
    save_panel({"a": faces, "b": faces.flip(0)}, tmp_path / "grid.png", captions={"a": ["one", "two"]}, scale=1)
    with Image.open(tmp_path / "grid.png") as img:
        panel = np.asarray(img.convert("RGB"))
    top, row = 4 + 14, 8 + 14 + 4  # pad + column label; tile + caption + pad
    assert tuple(panel[top + 2, 4 + 2]) == (0, 0, 0) and tuple(panel[top + row + 2, 4 + 2]) == (255, 255, 255)
    assert tuple(panel[top + 2, 4 + 12 + 2]) == (255, 255, 255)  # column b runs the other way
    assert panel.shape[0] == top + 2 * row
    with pytest.raises(ValueError, match="same number of images"):
        save_panel({"a": faces, "b": faces[:1]}, tmp_path / "bad.png")
