// Package ml trains and serves supervised flow classifiers: a decision tree
// (CART, Gini), a random forest of such trees and gradient-boosted trees
// with a softmax loss and vector leaves (one tree per round scores every
// class). All three learn from features quantised into at most 255
// quantile bins per column (histogram splits), are deterministic for a
// given Config.Seed whatever the number of workers, and share one model
// file format (docs/ml.md) with a version field and the feature names, so
// a model never scores data whose columns it was not trained on.
//
// Prediction walks float32 feature vectors through flattened trees and
// allocates nothing per row. On amd64 with AVX (AVX-512 for PredictBatch's
// 64-row blocks), boosted trees are scored by assembly kernels
// (fast_amd64.s) that give bit for bit the scores of the Go walk, which
// other CPUs use.
//
// The package also holds what evaluation needs: stratified k-fold
// assignment, per-class and macro F1, and the CICIoMT2024 label taxonomy
// (19 classes, 6 categories, binary). It depends on internal/ml/dataset,
// golang.org/x/sys/cpu (to detect AVX) and the standard library only; internal/ml/features maps live flow
// records to the dataset's feature vector.
package ml
