"""Where CPU-heavy work runs (worker processes, off the event loop) and how computed answers are kept and shared."""
