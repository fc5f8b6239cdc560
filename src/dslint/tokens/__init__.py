"""Exact token counts, offline: encodings, the counting formula and the dataset columns.

``dslint.tokens.counting.count(dataset)`` adds ``messages["tokens"]``, ``records["tokens"]``
and friends once per run; rules and ``dslint stats`` share the result.
``dslint.tokens.encodings`` builds tiktoken encodings from verified local files.
This package module stays import-light (the API imports its error type at start-up).
"""
