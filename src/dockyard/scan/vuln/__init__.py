"""The offline OSV vulnerability database and the matcher (issue 9).

:mod:`.db` (SQLite store and import), :mod:`.schema` (the OSV schema check), :mod:`.versions` (one version order
per ecosystem), :mod:`.severity`, :mod:`.match` (packages -> findings), :mod:`.update` (download osv.dev's zips).
"""
