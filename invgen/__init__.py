"""invgen: imaging inverse problems with generative priors.

Data flows one way: image → operator (:mod:`invgen.operators`) → measurement →
solver (:mod:`invgen.solvers`) with a prior (:mod:`invgen.priors`) → estimate →
back-projection → metrics (:mod:`invgen.metrics`).
"""
__version__ = "0.1.0"
