"""Run the experiment; see `python examples/cs_curve.py --help` (same as `invgen bench cs-curve`)."""
from invgen.experiments.cs_curve import main

if __name__ == "__main__":
    main()
