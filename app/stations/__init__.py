"""The station in use as the worker's answers show it: its rating, star level and whether it is usually busy now."""
