"""LLM-assisted review: a chat model judges assistant replies against written guidelines.

Off unless ``--review llm`` or ``[tool.dslint.review] mode = "llm"``. The pieces:

* :mod:`~dslint.review.settings`: the ``[tool.dslint.review]`` section, validated.
* :mod:`~dslint.review.guidelines`: the team's guidelines file (voice prose, policy rules).
* :mod:`~dslint.review.selection`: which replies are judged (sampling, conversation context).
* :mod:`~dslint.review.prompt`: the prompt, the JSON schema of the answer, its validation.
* :mod:`~dslint.review.cost`: the pre-flight plan (requests, tokens, dollars).
* :mod:`~dslint.review.cache`: verdicts by content hash + model + guidelines hash.
* :mod:`~dslint.review.client`: the requests, with bounded concurrency and retries.

The rules that report the verdicts live in :mod:`dslint.rules.review`.
"""
