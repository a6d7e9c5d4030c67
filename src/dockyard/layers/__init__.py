"""dockyard.layers: layer tar streams.

* :mod:`~dockyard.layers.compression` detect / decompress / compress (gzip via ISA-L, zstd)
* :mod:`~dockyard.layers.limits`      bounds against decompression bombs (``Limits``)
* :mod:`~dockyard.layers.digesting`   one pass: copy, distribution digest, diff_id (``copy_and_digest``)
* :mod:`~dockyard.layers.tarstream`   the one tar reader (Go's archive/tar rules), layer opening (``LayerOpener``)
* :mod:`~dockyard.layers.tarsize`     Docker's layer SIZE from the reader's headers
* :mod:`~dockyard.layers.tarpath`     entry names, whiteouts, hostile-name refusal
* :mod:`~dockyard.layers.union`       the flattened view of a layer stack (``flatten``, ``export``)
* :mod:`~dockyard.layers.unpack`      safe extraction into a directory (``unpack``)
* :mod:`~dockyard.layers.walk`        one pass per layer handing files to analyzers (Trivy's walker)
* :mod:`~dockyard.layers.apply`       merge per-layer analyzer results in layer order (whiteouts, opaque dirs)
* :mod:`~dockyard.layers.tree`        describe a directory tree (``snapshot``), for comparisons
"""
