"""The voice family's shared ``dataset.cache`` entries, by key prefix.

Each entry's key starts with one of these, and each rule lists those it reads in
``DatasetRule.shares``: the engine drops an entry after its last reader (memory at scale).
One name for both, so a key and its declaration cannot drift apart.
"""

PROFILE = "voice.profile"  # the profile, and its matches in the replies (PROFILE + ".matches")
ROWS = "voice.rows."  # the checked replies, with their text (0.8 GB at a million examples)
COUNTS = "voice.bytes."  # per-reply counts from the bytes
COMPLETED = "voice.features."  # those counts completed (emoji, grade)
TONE = "voice.tone."  # V011's style features
LANGUAGE = "voice.language."  # V012's detections
PROMPTS = "voice.system_prompts"  # V009 and V010's system prompts
VALE = "voice.vale.styles"  # V013's loaded styles
