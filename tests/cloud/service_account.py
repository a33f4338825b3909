"""A throwaway Google service-account key file for tests: a fresh RSA key, made at test time, whose `token_uri`
points at a mock token endpoint (mock_vertex.py's `/token`). Never a real credential.

Usage: python3 service_account.py <out.json> <token_uri> [project]
"""

import json
import sys
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_EMAIL = "gatehouse-test@mock-project.iam.gserviceaccount.com"


def make(path, token_uri, project="mock-project"):
    """Writes the key file to `path` and returns its dict."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/gatehouse-test",
        "universe_domain": "googleapis.com",
    }
    with open(path, "w") as out:
        json.dump(info, out, indent=2)
    return info


if __name__ == "__main__":
    make(sys.argv[1], sys.argv[2], *(sys.argv[3:4]))
