"""The tokenizer's one error type: bad input (shapes, ranges, missing model files) with a helpful message."""


class TokenizerError(ValueError):
    """Input the tokenizer cannot encode or decode (a ValueError, so generic handlers still catch it)."""
