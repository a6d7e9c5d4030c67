"""Vulnerability scanning, offline: an SBOM of an image's packages (``sbom/``: catalogers per ecosystem on the
layer walker, OS detection, CycloneDX and SPDX output) and CVE matching against an OSV database (``vuln/``: the
database, version orders per ecosystem, the matching rules, severities). The two halves meet in
:mod:`dockyard.scan.package`: what a cataloger finds is what a matcher matches."""
