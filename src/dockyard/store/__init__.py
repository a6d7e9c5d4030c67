"""The local image store: content-addressed blobs (``blobs``), SQLite metadata that alone speaks SQL
(``metadata``, its ``schema`` and migrations), the store as a source and a destination of the copy engine
(``source``, ``ingest``: manifests and indexes kept byte for byte), Docker's ``rmi``/``prune`` rules
(``delete``), garbage collection by reachability (``gc``), ``system check``/``df`` (``check``) and the
locks that let several processes share one store."""
