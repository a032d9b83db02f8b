import sys

from hrsync_cli.main import main

sys.exit(main())
