"""kalibra-action: compare two populations of agent traces and gate a pull request on the result."""

__version__ = "0.1.0"
