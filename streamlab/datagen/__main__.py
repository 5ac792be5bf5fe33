import sys

from streamlab.datagen.cli import main

sys.exit(main())
