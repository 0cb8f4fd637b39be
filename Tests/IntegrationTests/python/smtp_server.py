"""A real SMTP server for the notifier's tests (aiosmtpd), with STARTTLS and AUTH.

  smtp_server.py --port P --dir DIR [--user U --password W] [--tls-mode starttls|implicit|none] [--fail CODE]

Makes its own certificate for 127.0.0.1 and localhost (DIR/cert.pem, which the notifier is told to
trust), requires STARTTLS before MAIL (starttls mode), requires AUTH when --user is given, and
stores each message as DIR/new/N.eml with its envelope in DIR/envelopes.jsonl. --fail CODE answers
every DATA with that code instead (e.g. 451 or 554), for retry and dead-letter tests.
Traps from the reference: the authenticator returns AuthResult(success=False, handled=False) so a
bad password gets 535 instead of silence, and hostname="127.0.0.1" keeps it off ::1.
"""
import argparse
import asyncio
import datetime
import ipaddress
import json
import os
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--dir", required=True)
parser.add_argument("--user")
parser.add_argument("--password")
parser.add_argument("--tls-mode", default="starttls", choices=["starttls", "implicit", "none"])
parser.add_argument("--fail", type=int)
args = parser.parse_args()
os.makedirs(os.path.join(args.dir, "new"), exist_ok=True)


def certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(args.dir, "cert.pem"), os.path.join(args.dir, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        if args.fail:
            return f"{args.fail} refused by the test server"
        path = os.path.join(args.dir, "new", f"{self.n}.eml")
        self.n += 1
        with open(path, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(args.dir, "envelopes.jsonl"), "a") as f:
            f.write(json.dumps({"file": path, "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "tls": getattr(session, "ssl", None) is not None, "auth": session.authenticated, "time": time.time()}) + "\n")
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user and auth_data.password.decode() == args.password:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


context = certificate()
options = dict(hostname="127.0.0.1", port=args.port)
if args.tls_mode == "starttls":
    options.update(tls_context=context, require_starttls=True)
elif args.tls_mode == "implicit":
    options.update(ssl_context=context)
if args.user:
    options.update(authenticator=authenticator, auth_required=True, auth_require_tls=args.tls_mode != "none")
controller = Controller(Handler(), **options)
controller.start()
print("listening", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
