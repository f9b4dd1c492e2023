"""`curate --audit`: judge every kept image with a model that never trained on it, out of sample by K folds.

The rules work on arrays and can be called alone: `confident.find_label_issues(labels, probabilities)`,
`offtopic.find_off_topic(embeddings, labels, probabilities)`, and `semantic.copy_pairs(vectors, whole, centre,
neighbours, threshold)` on `semantic.instance_vectors(embeddings, labels)` and the hash pass's grey copies.
`judge` turns them into what moves; `model` is the one call into `classify`; `records`, `findings` and `sources`
make the report's part.
"""
