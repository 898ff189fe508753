"""`python -m thecal.cli`: the same as the `thecal` command."""

import sys

from thecal.cli.main import main

sys.exit(main())
