"""The user-facing commands: what each ``tvm-fusion`` command does (``commands.py``), the demo,
the explorer, ONNX runs and exported modules. ``cli.py`` parses and delegates here."""
