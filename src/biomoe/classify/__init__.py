"""Pain recognition on fused Tiny-BioMoE embeddings."""
