"""Not imported as a package: this folder goes on an environment's PYTHONPATH so that its
``sitecustomize`` scales the function's sleeps (``--scale-sleeps``)."""
