"""LLM review rules (V501, M501, M502): off unless ``--review llm``."""

from dslint.rules.review.rules import NotReviewed, PolicyReview, VoiceReview

RULES = [VoiceReview, PolicyReview, NotReviewed]
