"""Generate realistic chat fine-tuning datasets for the benchmarks.

The data looks like what teams upload: English prose from a customer-support domain,
multi-turn conversations (1 to 4 exchanges), one dominant system prompt shared by most
examples (a few teams' variants besides), and tool calling in about one example in ten.
Everything is deterministic for a given seed, so every benchmark run measures the same bytes.

    python benchmarks/generate.py --examples 100000 --seed 1 -o benchmarks/data/chat-100k.jsonl

About 1.2 KB per example on average (1M examples is about 1.2 GB).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

SYSTEM_PROMPTS = [
    (
        "You are Nova, the support assistant of Northwind Outfitters. Answer in a warm, concise "
        "and practical tone. Use the customer's words, never promise refunds you cannot grant, "
        "and offer the next concrete step. Sign off with 'Happy trails!' when a conversation ends."
    ),
    (
        "You are the billing helper for Northwind Outfitters. Be precise and polite, quote order "
        "numbers back to the customer, and explain charges step by step."
    ),
    "You are a helpful assistant.",
]
SYSTEM_WEIGHTS = [0.86, 0.09, 0.05]

PRODUCTS = [
    "trail jacket", "hiking boots", "rain shell", "down vest", "camping stove", "sleeping bag",
    "trekking poles", "day pack", "water filter", "headlamp", "tent footprint", "fleece hoodie",
    "merino socks", "climbing harness", "insulated bottle", "gaiters", "bivy sack", "map case",
]  # fmt: skip
TOPICS = [
    "delivery", "return", "exchange", "warranty", "sizing", "payment", "discount code",
    "gift card", "repair", "order change", "invoice", "loyalty points", "store pickup",
]  # fmt: skip
ADJECTIVES = [
    "new", "late", "damaged", "wrong", "missing", "extra", "urgent", "recent", "second", "large",
    "small", "blue", "green", "waterproof", "lightweight", "warm", "expensive", "discounted",
]  # fmt: skip
VERBS = [
    "arrived", "shipped", "broke", "tore", "faded", "leaked", "stopped working", "fit poorly",
    "came without tags", "was charged twice", "never showed up", "got delayed",
]  # fmt: skip
TIMES = ["yesterday", "last week", "two days ago", "this morning", "on Monday", "in March"]
CITIES = ["Denver", "Portland", "Boulder", "Seattle", "Austin", "Bend", "Missoula", "Asheville"]
NAMES = ["Alex", "Sam", "Jordan", "Taylor", "Riley", "Morgan", "Casey", "Jamie", "Robin", "Avery"]
OPENERS = [
    "Hi there,", "Hello,", "Hey,", "Good morning,", "Quick question:", "Hi team,", "",
]  # fmt: skip
USER_TEMPLATES = [
    "my {adj} {product} {verb} {time} and I am not sure what to do next.",
    "I ordered a {product} {time} but it {verb}. Can you help me with a {topic}?",
    "can I get a {topic} for the {adj} {product} I bought {time}?",
    "what is your policy on {topic} when a {product} {verb}?",
    "the {product} I got {time} {verb}, and I live in {city}. How long will a {topic} take?",
    "is there any way to speed up the {topic} for my {product}? It {verb} {time}.",
    "I need to change my order: the {product} should be {adj}, not the one I picked {time}.",
]  # fmt: skip
ASSISTANT_TEMPLATES = [
    "I'm sorry to hear that your {product} {verb}. {step} {detail}",
    "Thanks for reaching out about the {product}. {step} {detail}",
    "Good news: a {topic} is possible for a {product} bought {time}. {step} {detail}",
    "I understand how frustrating it is when a {product} {verb}. {step} {detail}",
    "Let me help with the {topic}. {step} {detail}",
]  # fmt: skip
STEPS = [
    "Please share your order number so I can look it up.",
    "I have started a {topic} request for you and you will get an email within the hour.",
    "You can print a free return label from your account page under Orders.",
    "Our team in {city} can inspect it within three business days.",
    "I can send a replacement {product} today at no extra cost.",
    "The fastest option is to bring it to any store with the receipt.",
]  # fmt: skip
DETAILS = [
    "Most {topic} requests are settled within five business days.",
    "If anything looks off, reply here and I will follow up personally.",
    "Keep the original packaging if you still have it, since it makes the {topic} faster.",
    "You will see the update in your account as soon as the warehouse confirms it.",
    "Our {adj} {product} line is covered by a two-year warranty as well.",
    "",
]  # fmt: skip
FOLLOW_UPS = [
    "Thanks! My order number is {order}.",
    "Okay, and what if the {product} is already used?",
    "Great, can you also check the {topic} on my other order {order}?",
    "Will I be charged for shipping on the {topic}?",
    "Perfect, that works for me.",
]  # fmt: skip

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "description": "Look up the status of an order by its number.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {
                        "type": "string",
                        "description": "The order number, e.g. NW-12345.",
                    }
                },
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "create_return",
            "description": "Open a return or exchange for an item of an order.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "description": "The order number."},
                    "reason": {
                        "type": "string",
                        "enum": ["damaged", "wrong_item", "sizing", "other"],
                        "description": "Why the item goes back.",
                    },
                },
                "required": ["order_id", "reason"],
            },
        },
    },
]


class Writer:
    """Builds examples from templates with one seeded random generator."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def fill(self, template: str) -> str:
        r = self.random
        return template.format(
            adj=r.choice(ADJECTIVES),
            product=r.choice(PRODUCTS),
            verb=r.choice(VERBS),
            time=r.choice(TIMES),
            topic=r.choice(TOPICS),
            city=r.choice(CITIES),
            order=f"NW-{r.randint(10000, 99999)}",
            step="{step}",
            detail="{detail}",
        )

    def user_turn(self) -> str:
        r = self.random
        opener = r.choice(OPENERS)
        body = self.fill(r.choice(USER_TEMPLATES))
        extra = " " + self.fill(r.choice(USER_TEMPLATES)).capitalize() if r.random() < 0.35 else ""
        text = f"{opener} {body}{extra}".strip()
        return text[0].upper() + text[1:]

    def assistant_turn(self) -> str:
        r = self.random
        paragraphs = []
        for _ in range(r.choice((1, 1, 2, 2, 3))):
            text = self.fill(r.choice(ASSISTANT_TEMPLATES))
            text = text.replace("{step}", self.fill(r.choice(STEPS)))
            text = text.replace("{detail}", self.fill(r.choice(DETAILS)))
            paragraphs.append(text.strip())
        if r.random() < 0.3:
            paragraphs.append(f"Best regards, {r.choice(NAMES)} from Northwind support.")
        return "\n\n".join(paragraphs)

    def example(self) -> dict[str, object]:
        r = self.random
        messages: list[dict[str, object]] = []
        system = r.choices(SYSTEM_PROMPTS, SYSTEM_WEIGHTS)[0]
        if r.random() < 0.97:
            messages.append({"role": "system", "content": system})
        example: dict[str, object] = {"messages": messages}
        with_tools = r.random() < 0.1
        for turn in range(r.choice((1, 1, 2, 2, 3, 4))):
            if turn == 0:
                messages.append({"role": "user", "content": self.user_turn()})
            else:
                messages.append({"role": "user", "content": self.fill(r.choice(FOLLOW_UPS))})
            if with_tools and turn == 0:
                order = f"NW-{r.randint(10000, 99999)}"
                call_id = f"call_{r.getrandbits(48):012x}"
                messages.append(
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": call_id,
                                "type": "function",
                                "function": {
                                    "name": "get_order_status",
                                    "arguments": json.dumps({"order_id": order}),
                                },
                            }
                        ],
                    }
                )
                status = r.choice(["shipped", "processing", "delivered", "delayed"])
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "content": json.dumps({"order_id": order, "status": status}),
                    }
                )
            messages.append({"role": "assistant", "content": self.assistant_turn()})
        if with_tools:
            example["tools"] = TOOLS
        return example


def generate(examples: int, seed: int, out: Path) -> Path:
    writer = Writer(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(out.suffix + ".tmp")
    with open(temporary, "w", encoding="utf-8") as fh:
        batch: list[str] = []
        for _ in range(examples):
            batch.append(json.dumps(writer.example(), ensure_ascii=False))
            if len(batch) == 10_000:
                fh.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            fh.write("\n".join(batch) + "\n")
    temporary.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    path = generate(args.examples, args.seed, args.output)
    print(f"wrote {args.examples:,} examples to {path} ({path.stat().st_size / 1e6:,.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
