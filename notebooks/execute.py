"""Executes notebooks headless, in memory, from the repository root.

Fails (exit 1) if a notebook raises, or if a committed notebook carries
outputs (they must be committed clean, so they never go stale).
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

root = Path(__file__).resolve().parent.parent
failed = False
for name in sys.argv[1:]:
    nb = nbformat.read(name, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    if dirty:
        print(f"{name}: cells {dirty} carry outputs; clear them before committing")
        failed = True
        continue
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
        print(f"{name}: ran {sum(c.cell_type == 'code' for c in nb.cells)} cells")
    except Exception as e:  # the notebook's own error, with its traceback
        print(f"{name}: FAILED\n{e}")
        failed = True
sys.exit(1 if failed else 0)
