"""Train a small Fashion-MNIST CNN that normalises its own input, and export it to ONNX.

    /usr/bin/python3 examples/pytorch/train.py

Reads the full Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
or $FMNIST_DIR) and falls back to the repository's embedded sample (media/data/fashion-mnist-sample:
10,000 training and 2,000 test images). Writes model.onnx next to this file: opset 13, a dynamic
batch, input N×1×28×28 in [0, 1] pixels, output 10 logits. The network subtracts Fashion-MNIST's
mean and divides by its std inside forward(), so the exported graph starts with Sub and Div and an
attack's ε stays in pixel space. Prints the clean test accuracy and PyTorch's own PGD-10 accuracy
at the experiment spec's ε, as a cross-check for the engine's numbers.
"""
import gzip
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(REPO, 'media', 'data', 'fashion-mnist-sample')
DEBIAN = os.environ.get('FMNIST_DIR') or '/usr/share/datasets/fashion-mnist'

# Fashion-MNIST's training-set pixel mean and std in [0, 1].
MEAN = 0.2860
STD = 0.3530
EPS = 0.05
EPOCHS = 4
SEED = 12


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    dims = magic & 0xFF
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, split):
    prefix = 'train' if split == 'train' else 't10k'
    x = read_idx(os.path.join(folder, prefix + '-images-idx3-ubyte.gz'))
    y = read_idx(os.path.join(folder, prefix + '-labels-idx1-ubyte.gz'))
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


class NormalisingCnn(nn.Module):
    """Conv 16 → pool → conv 32 → pool → linear 10, with (x − mean) / std as its first step."""

    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.tensor(MEAN).view(1, 1, 1, 1))
        self.register_buffer('std', torch.tensor(STD).view(1, 1, 1, 1))
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def accuracy(model, x, y):
    with torch.no_grad():
        return sum((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item() for i in range(0, len(x), 500)) / len(x)


def pgd(model, x, y, eps, steps=10, step_size=None):
    """L∞ PGD from the clean point (no random start), cross-entropy, images kept in [0, 1]."""
    step_size = step_size or 2.5 * eps / steps
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = nn.functional.cross_entropy(model(adv), y)
        grad, = torch.autograd.grad(loss, adv)
        adv = adv.detach() + step_size * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    folder = DEBIAN if os.path.exists(os.path.join(DEBIAN, 'train-images-idx3-ubyte.gz')) else SAMPLE
    x_train, y_train = load(folder, 'train')
    x_test, y_test = load(folder, 'test')
    print(f'data: {folder} ({len(x_train)} train, {len(x_test)} test images)', file=sys.stderr)

    model = NormalisingCnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 128):
            batch = order[i:i + 128]
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimiser.step()
        model.eval()
        print(f'epoch {epoch + 1}/{EPOCHS}: test accuracy {accuracy(model, x_test, y_test):.4f}', file=sys.stderr)

    model.eval()
    out = os.path.join(HERE, 'model.onnx')
    torch.onnx.export(
        model,
        torch.zeros(2, 1, 28, 28),
        out,
        opset_version=13,
        input_names=['input'],
        output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
        do_constant_folding=True,
    )
    # The first 300 test images of the embedded sample: the images of the spec's image folder.
    x_eval, y_eval = load(SAMPLE, 'test')
    x_eval, y_eval = x_eval[:300], y_eval[:300]
    clean = accuracy(model, x_eval, y_eval)
    robust = accuracy(model, pgd(model, x_eval, y_eval, EPS), y_eval)
    print(f'{out}: {os.path.getsize(out)} bytes')
    print(f'first 300 embedded test images: clean {clean:.3f}, PGD-10 (eps={EPS}) {robust:.3f}')


if __name__ == '__main__':
    main()
