"""hushkit: neural noise suppression from training to Cortex-M firmware.

This package's root holds the command line and the tools that drive a board or the emulator;
`hushkit.training` and `hushkit.quantize` are the pipeline stages upstream of the firmware.
"""

__version__ = "0.1.0"
