"""pytest set-up shared by the unit tests and the notebook runs (nbval over solutions/)."""
import os

os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars are for people, not for logs


def pytest_collection_modifyitems(config, items):
    # nbval waits a fixed 5 s for a cell's output; a slow cell on a busy 2-core machine needs more.
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.output_timeout = 60
