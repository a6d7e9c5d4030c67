"""Dockerfile builds without a daemon: the frontend (``dockerfile/``), build contexts, the runtime that runs RUN
steps in an OCI runtime over overlayfs, QEMU emulation for foreign platforms, and the builder that ties them to
the store, BuildKit's cache keys and the copy engine's destinations."""
