"""Where the image and embedding shards run: ``runners`` (local threads/processes, Dask),
``prefect_runner`` (each shard a Prefect task run), ``params`` (the scaleout section)."""
