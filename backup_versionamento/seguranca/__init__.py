"""Security: encryption and keys, signatures, access control, audit log.

cifra       AES-256-GCM per blob (the storage layer's `Cifra`), subkeys
chaves      the master key and the key objects that wrap it (key file, passphrase)
assinatura  Ed25519 signatures of sidecars
acesso      operating-system user -> roles (an accident guard)
auditoria   tamper-evident audit log (hash chain, authenticated head)
abertura    opening a repository with what the configuration asks for
"""
