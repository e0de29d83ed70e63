"""The base layer: what every other layer may use; imports nothing above it.

Together with the top-level modules `erros`, `registro`, `eventos`, `config` and
`texto` (base by nature, kept in place), this is the bottom of docs/ARQUITETURA.md.
"""
