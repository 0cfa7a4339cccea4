"""A persistent development key: tokens survive restarts, gunicorn workers agree."""

import os
from pathlib import Path


def rsa_private_key_pem() -> str:
    """Return a new 2048-bit RSA private key, PKCS#8 PEM (a JWT signing key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def dev_jwt_private_key(path: Path) -> str:
    if path.exists():
        return path.read_text()
    pem = rsa_private_key_pem()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(pem)
    os.replace(tmp, path)  # atomic: concurrent first starts agree on one file
    return path.read_text()
