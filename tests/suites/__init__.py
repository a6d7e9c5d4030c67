"""Conformance suites: one per protocol, run against every implementation by a fixture in tests/unit/."""
