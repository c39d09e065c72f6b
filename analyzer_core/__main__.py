import sys

from analyzer_core.cli import main

sys.exit(main())
