// Tokenizer: Gemma BPE tokenizer and chat format.
