"""biomoe: MLOps pipeline around the Tiny-BioMoE biosignal embedding model."""
