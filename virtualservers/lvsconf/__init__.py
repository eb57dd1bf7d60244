"""Django-free lvs.cf library: the data model, the parser and the renderer."""
