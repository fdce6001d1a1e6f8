"""``python -m fpga_accel.cli`` runs the ``fpga-accel`` command."""
import sys

from . import main

sys.exit(main())
