"""The pure OCI model: no I/O, nothing else from dockyard but :mod:`dockyard.errors`."""
