"""`python -m gato_ros.interfaces [--check]`: regenerate (or check) docs/INTERFACES.md."""

import sys

from gato_ros.interfaces.doc import main

sys.exit(main())
