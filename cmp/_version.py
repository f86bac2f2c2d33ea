"""The one place cmp's version is written: cmp.__version__ and the package
metadata (pyproject.toml reads it from here) both come from this line."""
__version__ = "0.1.0"
