"""Reading the code of the reStructuredText pages (for the tests that run it)."""

import re


def python_blocks(text):
    """The bodies of the ``.. code-block:: python`` directives, dedented."""
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks
