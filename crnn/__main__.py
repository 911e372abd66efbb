"""``python -m crnn``: the ``crnn`` command, as Ray jobs run it from a shipped checkout.

The one file of the library that reaches up into the command layer (``crnn_cli``); nothing imports it.
"""

import sys

from crnn_cli.main import main

sys.exit(main())
