"""Small helpers the tests share."""

import asyncio
import subprocess


async def run(*command: str) -> str:
    """A command's output (pdftotext, ogrinfo …), run off the event loop."""
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=True)
    return done.stdout
