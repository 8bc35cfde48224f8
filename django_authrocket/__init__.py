"""Log Django users in with AuthRocket and LoginRocket."""

__version__ = "0.1.0"
