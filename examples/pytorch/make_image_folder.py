"""Write the first 300 test images of the embedded Fashion-MNIST sample as an image folder.

    /usr/bin/python3 examples/pytorch/make_image_folder.py

Lays them out as torchvision's ImageFolder reads them, next to this file:
data/test/<class>/<index>.png (28×28 grayscale PNG, index = position in the sample's test split)
and data/classes.json, which gives the label order (the model's output order, not the sorted
folder names). model.robustness.json attacks model.onnx on this folder.
"""
import gzip
import json
import os
import shutil
import struct

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'media', 'data', 'fashion-mnist-sample')
OUT = os.path.join(HERE, 'data')
COUNT = 300
# Fashion-MNIST's classes in label order, spelled as folder names.
CLASSES = ['T-shirt-top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle-boot']


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    dims = struct.unpack('>I', data[:4])[0] & 0xFF
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    images = read_idx(os.path.join(SAMPLE, 't10k-images-idx3-ubyte.gz'))[:COUNT]
    labels = read_idx(os.path.join(SAMPLE, 't10k-labels-idx1-ubyte.gz'))[:COUNT]
    shutil.rmtree(OUT, ignore_errors=True)
    for name in CLASSES:
        os.makedirs(os.path.join(OUT, 'test', name))
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image, mode='L').save(os.path.join(OUT, 'test', CLASSES[label], f'{i:04d}.png'), optimize=True)
    with open(os.path.join(OUT, 'classes.json'), 'w') as f:
        json.dump(CLASSES, f, indent=2)
        f.write('\n')
    counts = np.bincount(labels, minlength=len(CLASSES))
    print(f'{OUT}: {COUNT} images, per class ' + ', '.join(f'{c} {n}' for c, n in zip(CLASSES, counts)))


if __name__ == '__main__':
    main()
