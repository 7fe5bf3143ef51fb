"""One module per queue; each task decodes ids, calls one connector use-case, returns a small report."""
