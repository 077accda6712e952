"""Annotation and result file formats, one module per format; import each by its full name."""
