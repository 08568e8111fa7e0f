"""Prints the layers of the example network's tfjs model.json (standard library only).

In VS Code with Robustness Lab, the line that names the model carries a lens with that
model's last robustness result (for example "robust 5.6% (PGD-20, ε=0.1) · clean 90.2% · 2 min ago"),
or "Attack" when it has none.
"""
import json
import pathlib

model_path = "examples/fashion-mnist/smallcnn/model.json"


def layers(path: str) -> list[tuple[str, str]]:
    topology = json.loads(pathlib.Path(path).read_text())["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    return [(layer["class_name"], layer["config"].get("activation", "")) for layer in config["layers"]]


if __name__ == "__main__":
    for name, activation in layers(model_path):
        print(f"{name:10} {activation}")
