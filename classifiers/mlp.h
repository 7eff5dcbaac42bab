// `mlp`: the LibTorch multilayer perceptron classifier (classifiers/mlp.cpp, target
// rareforge_classifiers_torch: the one classifiers file that includes torch headers, kept out of
// rareforge_classifiers so programs that do not need it do not load LibTorch).
//
// Hidden layers Linear -> ReLU (-> dropout), AdamW on the sample- and class-weighted
// cross-entropy, CPU only. Deterministic for the same seed and thread count (torch::manual_seed
// from ctx.rng(streams::kClassifier), which sets LibTorch's global generator; epoch shuffles
// from the same Rng). Model file: JSON with every parameter tensor (float32 values, exact).
// feature_importances: mean |weight| of each input column in the first layer.
#pragma once

namespace rareforge::classifiers {

/// Add `mlp` to the classifier registry (classifiers/classifier.h); idempotent.
void register_mlp();

}  // namespace rareforge::classifiers
