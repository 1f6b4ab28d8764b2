"""`python -m gato_ros.cli` = `gato-ros`."""

import sys

from gato_ros.cli import main

sys.exit(main())
