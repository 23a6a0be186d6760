"""One console for every command: messages never wrap mid-path, tables use a wide page when piped."""

import sys

from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 160, soft_wrap=True)
