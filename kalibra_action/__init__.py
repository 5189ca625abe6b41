"""kalibra-action: compare two populations of agent traces and gate a pull request on the result."""

# The one version source (pyproject reads it; scripts/release.py checks a pushed vX.Y.Z tag against it).
__version__ = "1.0.0"
