"""Query a kerastl export served by TF Serving over REST: raw pixels (JSON) or an image file (b64).

    python export/clients/rest_client.py photo.jpg [--url http://localhost:8501] [--model signs]
"""
import argparse
import base64
import json
import urllib.request


def predict(url: str, model: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}/v1/models/{model}:predict", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("image", help="a JPEG or PNG file")
    parser.add_argument("--url", default="http://localhost:8501")
    parser.add_argument("--model", default="signs")
    args = parser.parse_args()
    with open(args.image, "rb") as f:
        encoded = base64.b64encode(f.read()).decode()
    # serving_bytes decodes and resizes inside the graph; {"b64": ...} is TF Serving's binary convention.
    answer = predict(args.url, args.model, {"signature_name": "serving_bytes", "instances": [{"b64": encoded}]})
    best = answer["predictions"][0]
    print(f"{best['label']}  (class {best['class_id']}, p={max(best['probabilities']):.3f})")


if __name__ == "__main__":
    main()
