"""The benchmark's OpenID provider: an RSA key made with openssl, its discovery document
and key set served on 127.0.0.1, and RS256 access tokens signed with it.

    python3 bench/oidc_provider.py serve DIR PORT      # serves until killed
    python3 bench/oidc_provider.py token DIR PORT SUBJECT AUDIENCE   # prints a token

The key is made once in DIR (key.pem). The issuer is http://127.0.0.1:PORT.
"""

import base64
import http.server
import json
import os
import subprocess
import sys
import time


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_path(directory):
    path = os.path.join(directory, "key.pem")
    if not os.path.exists(path):
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", path],
            check=True, capture_output=True,
        )
    return path


def jwk(path):
    out = subprocess.run(["openssl", "rsa", "-in", path, "-noout", "-modulus"],
                         check=True, capture_output=True, text=True).stdout
    modulus = bytes.fromhex(out.strip().split("=", 1)[1])
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "bench",
            "n": b64(modulus), "e": b64((65537).to_bytes(3, "big"))}


def token(directory, port, subject, audience):
    path = key_path(directory)
    now = int(time.time())
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "bench"}).encode())
    claims = b64(json.dumps({
        "iss": f"http://127.0.0.1:{port}", "sub": subject, "aud": audience,
        "iat": now, "exp": now + 3 * 3600,
    }).encode())
    signing_input = f"{header}.{claims}".encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", path],
                               input=signing_input, check=True, capture_output=True).stdout
    return f"{header}.{claims}.{b64(signature)}"


def serve(directory, port):
    issuer = f"http://127.0.0.1:{port}"
    documents = {
        "/.well-known/openid-configuration": {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"},
        "/jwks": {"keys": [jwk(key_path(directory))]},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            document = documents.get(self.path)
            body = json.dumps(document).encode() if document else b"{}"
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    command, directory, port = sys.argv[1:4]
    if command == "serve":
        serve(directory, port)
    else:
        print(token(directory, port, *sys.argv[4:6]))
