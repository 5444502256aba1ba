"""`python -m bot` is the same as the `newsbot` command."""

import sys

from .cli import main

sys.exit(main())
