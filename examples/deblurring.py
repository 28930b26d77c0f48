"""Run the experiment; see `python examples/deblurring.py --help` (same as `invgen bench deblurring`)."""
from invgen.experiments.deblurring import main

if __name__ == "__main__":
    main()
