"""The ``dockyard`` command line: argument parsing (argparse, so that local commands start fast) and rendering
(Docker's tables, progress bars, one-line errors). It holds no logic: every command calls a function of the
package below it, which works the same from Python."""
