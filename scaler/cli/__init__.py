"""The command line: one module per command over the library, and their shared options. Entry point:
:func:`scaler.cli.app.main`."""
