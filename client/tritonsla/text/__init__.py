"""tritonsla.text: tokenizers, streaming detokenization, word lists, pre- and postprocessing."""
