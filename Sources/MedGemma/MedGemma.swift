// MedGemma: Gemma 3 models.
