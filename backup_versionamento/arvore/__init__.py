"""The model on the file system: reading a source tree in, writing a restore out."""
