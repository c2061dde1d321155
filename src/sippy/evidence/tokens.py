"""Count prompt tokens without the network, erring on the high side.

Real tokenizers (tiktoken, SentencePiece) need vocabulary files that tiktoken downloads at
run time; here we cannot. The estimate splits text the way byte-level and SentencePiece
tokenizers do at worst for CI logs: every digit and every symbol is a token (Llama 2 and
Mistral split numbers into digits), a run of letters costs one token per three letters,
and a character outside ASCII costs one token per UTF-8 byte (byte fallback). Tests check
it stays above Mistral's SentencePiece and Tekken tokenizers on real CI text.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"[A-Za-z]+| (?=[A-Za-z])|[ \t]+|[0-9]|[^\x00-\x7f]|\S|\n|\s")
_SEGMENTS = re.compile(r"[a-z]+|[A-Z][a-z]+|[A-Z]+")  # camelCase and ACRONYM parts
LETTERS_PER_TOKEN = 3
CAPITALS_PER_TOKEN = 2
LONG_RUN = 12  # longer letter runs are rarely words: identifiers, repeats, random text
MARGIN_PERCENT = 10
MESSAGE_OVERHEAD = 8  # role markers and separators of a chat template, per message


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens `text` costs in a chat prompt."""
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isascii() and first.isalpha():
            count += _letters(piece)
        elif piece == " ":
            continue  # a space before a word merges into the word's token
        elif first in " \t":
            count += -(-len(piece) // 2)
        elif first.isascii():
            count += 1
        else:
            count += len(piece.encode("utf-8", "replace"))
    if not count:
        return 0
    return -(-count * (100 + MARGIN_PERCENT) // 100) + 1  # and a leading-space token


def estimate_messages(messages: list[dict[str, str]]) -> int:
    """Tokens for a list of chat messages, template overhead included."""
    return sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages)


def _letters(run: str) -> int:
    """Words cost a token per three letters; capitals (acronyms, base64) cost more."""
    if len(run) > LONG_RUN:
        return -(-len(run) // CAPITALS_PER_TOKEN)
    if run.islower() or (run[0].isupper() and run[1:].islower()):
        return -(-len(run) // LETTERS_PER_TOKEN)
    count = 0
    for segment in _SEGMENTS.findall(run):
        per = CAPITALS_PER_TOKEN if segment.isupper() else LETTERS_PER_TOKEN
        count += -(-len(segment) // per)
    return count
