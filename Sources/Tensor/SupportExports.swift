// The seeded generator (`SplitMix64`) lives in Support so that Evaluation and the synthetic angiograms can
// use it without depending on Tensor; the model code, which draws dropout masks and initial weights through
// Tensor, sees it here as before.
@_exported import Support
