"""Storage, format 2 (docs/FORMATO.md): backends, blobs, packs, index fragments,
sidecars, per-machine caches, garbage collection, migration from format 1."""
