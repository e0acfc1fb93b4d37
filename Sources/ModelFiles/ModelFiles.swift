// ModelFiles: safetensors, GGUF, config.json, npy.
