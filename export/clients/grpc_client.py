"""Query a kerastl export served by TF Serving over gRPC (`pip install tensorflow-serving-api`).

    python export/clients/grpc_client.py photo.jpg [--target localhost:8500] [--model signs]
"""
import argparse

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("image", help="a JPEG or PNG file")
    parser.add_argument("--target", default="localhost:8500")
    parser.add_argument("--model", default="signs")
    args = parser.parse_args()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = args.model
    request.model_spec.signature_name = "serving_bytes"
    with open(args.image, "rb") as f:
        request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([f.read()]))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(args.target))
    outputs = stub.Predict(request, timeout=30).outputs
    label = tf.make_ndarray(outputs["label"])[0].decode()
    probability = tf.make_ndarray(outputs["probabilities"])[0].max()
    print(f"{label}  (class {tf.make_ndarray(outputs['class_id'])[0]}, p={probability:.3f})")


if __name__ == "__main__":
    main()
