"""Prints the layers of the example network's tfjs model.json (standard library only).

In VS Code with Robustness Lab, the line that names the model carries a lens with that model's
last robustness result, or "Attack" when it has none. The path is relative to this file's folder,
so the lens appears whichever folder is the workspace: the repository, examples/ or
examples/fashion-mnist/. After the Run lens of smallcnn.robustness.json (next to this file), it
reads "robust 0.0% (PGD-20, ε=0.1) · clean 90.2% · just now": PGD-20 fools all 451 of the 500
test images this standard-trained network gets right (FGSM leaves 2.8%; the same figures from
`robustness-lab run examples/fashion-mnist/smallcnn.robustness.json`).
"""
import json
import pathlib

model_path = pathlib.Path(__file__).parent / "smallcnn/model.json"


def layers(path: pathlib.Path) -> list[tuple[str, str]]:
    topology = json.loads(path.read_text())["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    return [(layer["class_name"], layer["config"].get("activation", "")) for layer in config["layers"]]


if __name__ == "__main__":
    for name, activation in layers(model_path):
        print(f"{name:10} {activation}")
