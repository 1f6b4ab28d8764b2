"""The Gato tokenizer (Reed et al. 2022, section 2.1): text, images, discrete and continuous values."""

from gato_ros.tokenizer.continuous import (
    bin_centres, detokenize_continuous, inv_mu_law, mu_law, read_bins, to_bins, tokenize_continuous,
)
from gato_ros.tokenizer.discrete import detokenize_discrete, tokenize_discrete
from gato_ros.tokenizer.errors import TokenizerError
from gato_ros.tokenizer.gato import GatoTokenizer
from gato_ros.tokenizer.image import image_to_patches, patch_spans, preprocess_image
from gato_ros.tokenizer.sequence import (
    Modality, TokenSequence, collate, concat, prompt_slice, random_window, windows, with_prompt,
)
from gato_ros.tokenizer.text import TextTokenizer

__all__ = [
    "GatoTokenizer", "Modality", "TextTokenizer", "TokenSequence", "TokenizerError", "bin_centres", "collate", "concat",
    "detokenize_continuous", "detokenize_discrete", "image_to_patches", "inv_mu_law", "mu_law",
    "patch_spans", "preprocess_image", "prompt_slice", "random_window", "read_bins", "to_bins", "tokenize_continuous",
    "tokenize_discrete", "windows", "with_prompt",
]
