"""Security: encryption and keys, signatures, access control, audit log.

cifra       AES-256-GCM per blob (the storage layer's `Cifra`), subkeys
chaves      the master key and the key objects that wrap it (key file, passphrase)
assinatura  Ed25519 signatures of sidecars
acesso      operating-system user -> roles (an accident guard)
auditoria   tamper-evident audit log (hash chain, authenticated head)
mestra      the master key as configured: made, opened, wrapped for more people
credenciais the key file and the passphrase (environment or a prompt)
permissoes  file modes of a protected local repository
contexto    the pieces above wired for one manager (hooks, audit, authorization)
configuracao  the `seguranca` section of the configuration
"""
