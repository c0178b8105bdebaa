"""What the blob store adapters share."""

CHUNK_SIZE = 256 * 1024
"""The most bytes `stream` yields at a time."""
