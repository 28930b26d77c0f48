"""The paper's experiments on CelebA val faces (``invgen bench NAME``)."""
from __future__ import annotations

from importlib import import_module


def _runner(module: str):
    def run(argv: list[str]) -> None:
        import_module(f"invgen.app.experiments.{module}").main(argv)

    return run


EXPERIMENTS = {name.replace("_", "-"): _runner(name)
               for name in ("cs_curve", "super_resolution", "deblurring", "inpainting")}
