"""The classic MNIST, Fashion-MNIST and CIFAR-10 baselines, and a speed-run-style fast path."""
