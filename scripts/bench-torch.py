#!/usr/bin/python3
"""The PyTorch column of `npm run bench`: the bench's work in plain PyTorch, no attack library.

It reads a tfjs Layers model (model.json + weights.bin: a Sequential of Conv2D, Flatten and Dense,
NHWC as tfjs keeps it) and builds the same network as a torch module: conv kernels
[kh, kw, in, out] -> [out, in, kh, kw], the first Dense layer's rows reordered from Keras' NHWC
flatten order (h, w, c) to torch's (c, h, w), TensorFlow's "same" padding (the extra pixel at the
bottom/right when the total is odd). Then, on both cores (torch.set_num_threads(2)):

  grad      forward + input gradient (summed cross-entropy) at batch 250, median of repeats
  pgd       PGD-10, L-inf, eps 0.1, alpha = 2.5 eps / 10, random start, all 10 steps on all points
            (no early stop), first 1,000 Fashion-MNIST test images in batches of 250, median
  train     one epoch of standard training: Adam (lr 1e-3), batch 128, mean cross-entropy,
            shuffled 60,000 training images (or --train-batches batches, scaled to the epoch)
  pgd-at    one PGD-AT epoch: each batch replaced by PGD-10 examples (random start, alpha =
            2.5 eps / 10, eps 0.1), then the Adam step (or --pgd-at-batches batches, scaled)

`--check FILE` (JSON {"images": [[...784 floats...], ...], "logits": [[...10...], ...]}) compares
the torch logits with another engine's on the same images and reports max |delta|.
Prints one JSON object on stdout; peakRssMb is this process's peak (ru_maxrss), so run one
section per process (`--only`) for per-section memory. Data: the Fashion-MNIST IDX files
(`apt-get install -y dataset-fashion-mnist`), read with gzip + numpy.
"""
import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = os.environ.get('FMNIST_DIR') or '/usr/share/datasets/fashion-mnist'
EPOCH_IMAGES = 60000


def read_idx(path):
    """An IDX file (gzip or raw): uint8 array shaped as its header says."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        raw = f.read()
    zero, dtype, dims = struct.unpack('>HBB', raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte IDX file (magic {zero:#x} {dtype:#x})')
    shape = struct.unpack('>' + 'I' * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(data_dir, split):
    prefix = 'train' if split == 'train' else 't10k'
    for suffix in ('.gz', ''):
        images = os.path.join(data_dir, f'{prefix}-images-idx3-ubyte{suffix}')
        labels = os.path.join(data_dir, f'{prefix}-labels-idx1-ubyte{suffix}')
        if os.path.exists(images) and os.path.exists(labels):
            x = torch.from_numpy(read_idx(images).copy()).unsqueeze(1)  # uint8 [n, 1, 28, 28]
            y = torch.from_numpy(read_idx(labels).astype(np.int64))
            return x, y
    raise FileNotFoundError(f'{data_dir}: no {prefix}-images-idx3-ubyte(.gz); apt-get install -y dataset-fashion-mnist')


def to_float(x_uint8):
    return x_uint8.float().div_(255.0)


def same_padding(size, kernel, stride):
    """TensorFlow's padding="same": total = max((out-1)*s + k - in, 0), the odd pixel at the end.
    Returns (F.pad's (left, right, top, bottom), whether it is symmetric, the output (h, w))."""
    pads, out = [], []
    for n, k, s in zip(size, kernel, stride):
        o = -(-n // s)
        total = max((o - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
        out.append(o)
    (top, bottom), (left, right) = pads
    return (left, right, top, bottom), top == bottom and left == right, out


class _Pad(nn.Module):
    """F.pad as a layer: TensorFlow's asymmetric "same" padding in front of a conv."""

    def __init__(self, pad):
        super().__init__()
        self.pad = pad

    def forward(self, x):
        return F.pad(x, self.pad)


def build_from_tfjs(model_json):
    """A torch module equal to the tfjs Layers Sequential in model_json (Conv2D / Flatten / Dense, relu or linear)."""
    with open(model_json) as f:
        spec = json.load(f)
    folder = os.path.dirname(os.path.abspath(model_json))
    tensors = {}
    for group in spec['weightsManifest']:
        blob = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
        offset = 0
        for w in group['weights']:
            if w['dtype'] != 'float32':
                raise ValueError(f"{model_json}: weight {w['name']} is {w['dtype']}; only float32 is read")
            count = int(np.prod(w['shape'])) if w['shape'] else 1
            tensors[w['name']] = np.frombuffer(blob, dtype='<f4', count=count, offset=offset).reshape(w['shape'])
            offset += 4 * count
    topology = spec['modelTopology']
    config = topology.get('model_config', topology)['config']
    layers = config['layers'] if isinstance(config, dict) else config
    shape = None  # (h, w, c), NHWC as tfjs sees it
    modules = []
    flatten_shape = None
    for layer in layers:
        kind, cfg = layer['class_name'], layer['config']
        name = cfg['name']
        if shape is None:
            batch_shape = cfg.get('batch_input_shape') or cfg.get('batchInputShape')
            if not batch_shape or len(batch_shape) != 4:
                raise ValueError(f'{model_json}: the first layer gives no [null, h, w, c] input shape')
            shape = tuple(batch_shape[1:])
        if kind == 'Conv2D':
            if cfg.get('data_format', 'channels_last') != 'channels_last':
                raise ValueError(f'{model_json}: {name} is not channels_last')
            kernel = tensors[f'{name}/kernel']  # [kh, kw, in, out]
            kh, kw, cin, cout = kernel.shape
            stride = tuple(cfg['strides'])
            conv = nn.Conv2d(cin, cout, (kh, kw), stride=stride, bias=cfg.get('use_bias', True))
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
                if conv.bias is not None:
                    conv.bias.copy_(torch.from_numpy(tensors[f'{name}/bias'].copy()))
            if cfg['padding'] == 'same':
                pad, symmetric, out_hw = same_padding(shape[:2], (kh, kw), stride)
                if symmetric:
                    conv.padding = (pad[2], pad[0])
                else:
                    modules.append(_Pad(pad))
            elif cfg['padding'] == 'valid':
                out_hw = [(n - k) // s + 1 for n, k, s in zip(shape[:2], (kh, kw), stride)]
            else:
                raise ValueError(f"{model_json}: {name} has padding {cfg['padding']}")
            modules.append(conv)
            shape = (out_hw[0], out_hw[1], cout)
        elif kind == 'Flatten':
            flatten_shape = shape
            modules.append(nn.Flatten())
            shape = (int(np.prod(shape)),)
        elif kind == 'Dense':
            kernel = tensors[f'{name}/kernel']  # [in, out]
            if flatten_shape is not None:
                # Keras flattens NHWC as (h, w, c); torch's Flatten of NCHW gives (c, h, w).
                h, w, c = flatten_shape
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
                flatten_shape = None
            dense = nn.Linear(kernel.shape[0], kernel.shape[1], bias=cfg.get('use_bias', True))
            with torch.no_grad():
                dense.weight.copy_(torch.from_numpy(kernel.T.copy()))
                if dense.bias is not None:
                    dense.bias.copy_(torch.from_numpy(tensors[f'{name}/bias'].copy()))
            modules.append(dense)
            shape = (kernel.shape[1],)
        else:
            raise ValueError(f'{model_json}: layer {name} is a {kind}; this script reads Conv2D, Flatten and Dense')
        activation = cfg.get('activation', 'linear')
        if activation == 'relu':
            modules.append(nn.ReLU())
        elif activation not in ('linear', None):
            raise ValueError(f'{model_json}: {name} has activation {activation}')
    return nn.Sequential(*modules)


def median(values):
    s = sorted(values)
    return s[len(s) // 2]


def input_grad(model, x, y):
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction='sum')
    (g,) = torch.autograd.grad(loss, x)
    return g


def pgd(model, x, y, eps, steps, alpha, generator):
    """L-inf PGD from a uniform random start in the ball, every step on every point, last iterate."""
    delta = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
    xa = (x + delta).clamp_(0, 1)
    for _ in range(steps):
        g = input_grad(model, xa, y)
        xa = xa + alpha * g.sign()
        xa = torch.min(torch.max(xa, x - eps), x + eps).clamp_(0, 1)
    return xa


def section_grad(model, test_x, test_y, repeats):
    x, y = to_float(test_x[:250]), test_y[:250]
    times = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        input_grad(model, x, y)
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    return {'forwardGradMs': median(times), 'repeats': repeats}


def section_pgd(model, test_x, test_y, n, repeats, eps, steps):
    alpha = 2.5 * eps / steps
    times = []
    correct = 0
    for r in range(repeats):
        gen = torch.Generator().manual_seed(r)
        correct = 0
        t0 = time.perf_counter()
        for start in range(0, n, 250):
            x, y = to_float(test_x[start : min(n, start + 250)]), test_y[start : min(n, start + 250)]
            xa = pgd(model, x, y, eps, steps, alpha, gen)
            with torch.no_grad():
                correct += int((model(xa).argmax(1) == y).sum())
        times.append(time.perf_counter() - t0)
    return {
        'pgdS': median(times),
        'repeats': repeats,
        'images': n,
        'inputGradients': n * steps,
        'robustAccuracy': correct / n,
    }


def section_train(model, train_x, train_y, batches, adversarial, eps, steps):
    """One epoch (or `batches` batches of it, scaled) of Adam at lr 1e-3, batch 128."""
    batch = 128
    epoch_batches = -(-EPOCH_IMAGES // batch)
    batches = min(batches or epoch_batches, epoch_batches)
    alpha = 2.5 * eps / steps
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(train_x.shape[0], generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    model.train()
    loss_sum = 0.0
    t0 = time.perf_counter()
    for b in range(batches):
        idx = order[b * batch : (b + 1) * batch]
        x, y = to_float(train_x[idx]), train_y[idx]
        if adversarial:
            x = pgd(model, x, y, eps, steps, alpha, gen)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        loss_sum += float(loss)
    seconds = time.perf_counter() - t0
    return {
        'epochS': seconds * epoch_batches / batches,
        'timedS': seconds,
        'batches': batches,
        'epochBatches': epoch_batches,
        'method': 'measured' if batches == epoch_batches else f'{batches} batches scaled to {epoch_batches}',
        'meanLoss': loss_sum / batches,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='examples/fashion-mnist/smallcnn-robust/model.json')
    parser.add_argument('--data', default=DATA_DIR)
    parser.add_argument('--only', default='grad,pgd,train,pgd-at', help='comma list of sections')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--n', type=int, default=1000, help='test images PGD attacks')
    parser.add_argument('--eps', type=float, default=0.1)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=3, help='repeats of the PGD section (grad: 4x this)')
    parser.add_argument('--train-batches', type=int, default=0, help='0: the whole epoch')
    parser.add_argument('--pgd-at-batches', type=int, default=0, help='0: the whole epoch')
    parser.add_argument('--check', help='JSON with images and another engine\'s logits to compare')
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.perf_counter()
    model = build_from_tfjs(args.model)
    out = {
        'torch': torch.__version__,
        'python': sys.version.split()[0],
        'threads': torch.get_num_threads(),
        'model': args.model,
    }
    if args.check:
        with open(args.check) as f:
            ref = json.load(f)
        images = torch.tensor(ref['images'], dtype=torch.float32)
        side = int(round((images.shape[1]) ** 0.5))
        with torch.no_grad():
            logits = model(images.reshape(-1, 1, side, side))
        expected = torch.tensor(ref['logits'], dtype=torch.float32)
        out['check'] = {
            'images': int(images.shape[0]),
            'maxAbsDelta': float((logits - expected).abs().max()),
            'maxAbsLogit': float(expected.abs().max()),
        }
    sections = [s.strip() for s in args.only.split(',') if s.strip()]
    unknown = set(sections) - {'grad', 'pgd', 'train', 'pgd-at', 'none'}
    if unknown:
        parser.error(f'--only: unknown section(s) {", ".join(sorted(unknown))}; use grad, pgd, train, pgd-at')
    if 'grad' in sections or 'pgd' in sections:
        test_x, test_y = load_split(args.data, 'test')
        model.eval()
        if 'grad' in sections:
            out['grad'] = section_grad(model, test_x, test_y, 4 * args.repeats)
        if 'pgd' in sections:
            out['pgd'] = section_pgd(model, test_x, test_y, args.n, args.repeats, args.eps, args.steps)
    if 'train' in sections or 'pgd-at' in sections:
        train_x, train_y = load_split(args.data, 'train')
        # Each training section starts from a fresh network, as our bench's does: He-normal kernels
        # (fan in, as tfjs' heNormal), zero biases. The weights do not change the time per batch.
        def fresh():
            torch.manual_seed(0)
            for m in model.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

        if 'train' in sections:
            fresh()
            out['train'] = section_train(model, train_x, train_y, args.train_batches, False, args.eps, args.steps)
        if 'pgd-at' in sections:
            fresh()
            out['pgdAt'] = section_train(model, train_x, train_y, args.pgd_at_batches, True, args.eps, args.steps)
    out['wallS'] = time.perf_counter() - started
    out['peakRssMb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
