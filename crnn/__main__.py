import sys

from crnn.cli.main import main

sys.exit(main())
