"""192-D embeddings of every image, cached by content (image hash + backbone hash)."""
