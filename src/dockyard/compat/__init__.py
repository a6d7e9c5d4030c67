"""Everything that imitates Go or Docker byte for byte: Go's JSON encoding (:mod:`gojson`), time layouts
(:mod:`gotime`), ``text/tabwriter`` (:mod:`tabwriter`), ``fmt`` (:mod:`gofmt`), Go's data model as Python
values (:mod:`gotypes`), the complete ``text/template`` engine (:mod:`gotemplate`) and Docker's ``--format``
conventions on top of it (:mod:`dockerformat`). It imports nothing from the rest of dockyard but ``errors``,
so the CLI, the registry server and the scanner all format through it.
"""
