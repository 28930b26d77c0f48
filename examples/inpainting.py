"""Run the experiment; see `python examples/inpainting.py --help` (same as `invgen bench inpainting`)."""
from invgen.experiments.inpainting import main

if __name__ == "__main__":
    main()
