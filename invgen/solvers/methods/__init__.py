"""The built-in methods, one module each: a settings dataclass, a function of a
:class:`~invgen.solvers.methods.base.Problem` and those settings that returns estimates,
and the :class:`~invgen.solvers.methods.base.Method` that names them. The registry
(:mod:`invgen.solvers.registry`) lists them; :func:`invgen.solvers.reconstruct` runs them.
"""
