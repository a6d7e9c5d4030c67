"""Where images live, behind the ``Source`` and ``Destination`` protocols of ``base``: a registry
(``registry/`` client, ``remote`` source and destination), an OCI image layout directory or tar
(``oci_layout``) and a docker-archive (``docker_archive``). The local store implements the same protocols in
``dockyard.store``; the copy engine (``dockyard.copy``) moves images between any two of them."""
