"""Run the experiment; see `python examples/super_resolution.py --help` (same as `invgen bench super-resolution`)."""
from invgen.experiments.super_resolution import main

if __name__ == "__main__":
    main()
