"""Exceptions that carry a message meant for the person who gave the input."""


class InputError(ValueError):
    """Bad input from outside (a file, a box, a parameter); the message names the file, line or frame."""


class FrameReadError(InputError):
    """A frame could not be read or decoded; the message names the source and the frame index."""


class CheckpointError(InputError):
    """A weight file is not what its slot expects, is truncated, or is refused as unsafe."""
