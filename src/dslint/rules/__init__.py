"""Built-in rules, one sub-package per family; each exports ``RULES`` for its entry point."""
