"""Who is who: the enrolment authority, device identities and their key files, and the keystore.

Every device (pump, clinician programmer, PTM) generates its own Ed25519 key;
nothing is built in. An enrolment authority (the manufacturer, in a real
deployment) certifies each public key with a role, so a PTM cannot claim to be
a clinician programmer. The pump pairs only with certified keys and keeps, per
paired key, the role and the link keys in its keystore. Revocation is forever:
a revoked key id stays on the list and can never pair again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from thecal.errors import InputError
from thecal.pump.core.commands import Role
from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected, StoreDamaged
from thecal.telemetry.frames import KEY_ID_BYTES
from thecal.telemetry.link import LinkKeys
from thecal.telemetry.persistence import Persistence, write_atomically

PUBLIC_KEY_BYTES = 32
_CERTIFICATE_CONTEXT = b"thecal certificate v1\x00"
_ROLES = frozenset(role.value for role in Role)


def key_id_of(public_key: bytes) -> bytes:
    """The short id that names a public key in frame headers."""
    return hashlib.sha256(b"thecal key id v1\x00" + public_key).digest()[:KEY_ID_BYTES]


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether signature is the holder of public_key signing data."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Certificate:
    """An authority's statement that a public key belongs to a device of a role."""

    role: Role
    label: str
    public_key: bytes
    issuer_id: bytes
    signature: bytes

    @property
    def key_id(self) -> bytes:
        """The certified key's id."""
        return key_id_of(self.public_key)

    def signed_part(self) -> bytes:
        """The bytes the authority signs."""
        return codec.encode({1: self.role.value, 2: self.label, 3: self.public_key, 4: self.issuer_id})

    def to_bytes(self) -> bytes:
        """The certificate as canonical CBOR."""
        return codec.encode([self.signed_part(), self.signature])

    @classmethod
    def from_bytes(cls, data: object) -> Certificate:
        """Parse a certificate, or raise Rejected."""
        if type(data) is not bytes:
            raise Rejected(RejectCode.PAIRING_FAILED, "a certificate is a byte string")
        outer = codec.decode(data, "certificate", RejectCode.PAIRING_FAILED)
        if type(outer) is not list or len(outer) != 2 or not all(type(part) is bytes for part in outer):
            raise Rejected(RejectCode.PAIRING_FAILED, "a certificate is [signed part, signature]")
        signed, signature = outer
        fields = codec.decode(signed, "certificate body", RejectCode.PAIRING_FAILED)
        if type(fields) is not dict or set(fields) != {1, 2, 3, 4}:
            raise Rejected(RejectCode.PAIRING_FAILED, "a certificate body has keys 1 to 4")
        role, label, public_key, issuer_id = fields[1], fields[2], fields[3], fields[4]
        valid = (
            role in _ROLES
            and type(label) is str
            and type(public_key) is bytes
            and len(public_key) == PUBLIC_KEY_BYTES
            and type(issuer_id) is bytes
        )
        if not valid:
            raise Rejected(RejectCode.PAIRING_FAILED, "a certificate field has the wrong type")
        return cls(Role(role), label, public_key, issuer_id, signature)

    def check(self, authority_key: bytes, *, roles: frozenset[Role]) -> None:
        """Raise Rejected unless the authority signed this certificate for one of these roles."""
        if self.issuer_id != key_id_of(authority_key):
            raise Rejected(RejectCode.PAIRING_FAILED, "the certificate was issued by another authority")
        if not verify_signature(authority_key, self.signature, _CERTIFICATE_CONTEXT + self.signed_part()):
            raise Rejected(RejectCode.PAIRING_FAILED, "the certificate's signature does not verify")
        if self.role not in roles:
            allowed = ", ".join(sorted(role.value for role in roles))
            raise Rejected(RejectCode.PAIRING_FAILED, f"a {self.role.value} key cannot pair here (only {allowed})")


def _save_key_file(path: Path | str, kind: str, fields: dict[int, object]) -> None:
    path = Path(path)
    if path.exists():
        raise InputError("key file", str(path), "already exists", "choose a new path; a key file is never overwritten")
    write_atomically(path, codec.encode({0: kind, **fields}))


def _load_key_file(path: Path | str, kind: str) -> dict[int | str, object]:
    path = Path(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise InputError(
            "key file",
            str(path),
            f"has mode {mode:o}, so other users can read or change it",
            "chmod 600 the file, and treat the key as exposed if others could read it",
        )
    try:
        fields = codec.decode(path.read_bytes(), "key file")
    except Rejected as exc:
        raise InputError("key file", str(path), exc.reason, "restore the file from backup") from None
    if type(fields) is not dict or fields.get(0) != kind:
        raise InputError("key file", str(path), f"is not a {kind} file", f"give the path of a {kind} file")
    return fields


class Authority:
    """The enrolment authority that certifies device keys with their roles."""

    def __init__(self, signing_key: Ed25519PrivateKey):
        self._signing_key = signing_key
        self.public_key = signing_key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> Authority:
        """A new authority with a fresh key."""
        return cls(Ed25519PrivateKey.generate())

    def certify(self, public_key: bytes, role: Role, label: str) -> Certificate:
        """Certify a device's public key for a role."""
        unsigned = Certificate(role, label, public_key, key_id_of(self.public_key), b"")
        signature = self._signing_key.sign(_CERTIFICATE_CONTEXT + unsigned.signed_part())
        return Certificate(role, label, public_key, unsigned.issuer_id, signature)

    def save(self, path: Path | str) -> None:
        """Write the authority key to a new 0600 file."""
        _save_key_file(path, "thecal-authority", {1: self._signing_key.private_bytes_raw()})

    @classmethod
    def load(cls, path: Path | str) -> Authority:
        """Read an authority key file."""
        fields = _load_key_file(path, "thecal-authority")
        secret = fields.get(1)
        if type(secret) is not bytes or len(secret) != 32:
            raise InputError("key file", str(path), "holds no valid key", "restore the file from backup")
        return cls(Ed25519PrivateKey.from_private_bytes(secret))


class DeviceIdentity:
    """A device's own key, its certificate, and the authority it trusts."""

    def __init__(self, signing_key: Ed25519PrivateKey, certificate: Certificate, authority_key: bytes):
        if certificate.public_key != signing_key.public_key().public_bytes_raw():
            raise ValueError("the certificate is for another key")
        self._signing_key = signing_key
        self.certificate = certificate
        self.authority_key = authority_key

    @classmethod
    def create(cls, authority: Authority, role: Role, label: str) -> DeviceIdentity:
        """Generate a new device key and have the authority certify it."""
        key = Ed25519PrivateKey.generate()
        certificate = authority.certify(key.public_key().public_bytes_raw(), role, label)
        return cls(key, certificate, authority.public_key)

    @property
    def key_id(self) -> bytes:
        """This device's key id."""
        return self.certificate.key_id

    @property
    def role(self) -> Role:
        """This device's certified role."""
        return self.certificate.role

    @property
    def label(self) -> str:
        """This device's certified label (serial number or name)."""
        return self.certificate.label

    @property
    def public_key(self) -> bytes:
        """This device's public key."""
        return self.certificate.public_key

    def sign(self, data: bytes) -> bytes:
        """Sign data with this device's key."""
        return self._signing_key.sign(data)

    def save(self, path: Path | str) -> None:
        """Write the identity to a new 0600 file."""
        _save_key_file(
            path,
            "thecal-identity",
            {1: self._signing_key.private_bytes_raw(), 2: self.certificate.to_bytes(), 3: self.authority_key},
        )

    @classmethod
    def load(cls, path: Path | str) -> DeviceIdentity:
        """Read an identity file."""
        fields = _load_key_file(path, "thecal-identity")
        secret, certificate, authority_key = fields.get(1), fields.get(2), fields.get(3)
        if type(secret) is not bytes or len(secret) != 32 or type(authority_key) is not bytes:
            raise InputError("key file", str(path), "holds no valid identity", "restore the file from backup")
        try:
            return cls(Ed25519PrivateKey.from_private_bytes(secret), Certificate.from_bytes(certificate), authority_key)
        except (Rejected, ValueError) as exc:
            raise InputError("key file", str(path), str(exc), "restore the file from backup") from None


@dataclass(frozen=True)
class PeerRecord:
    """A paired device as the other side remembers it."""

    key_id: bytes
    role: Role
    label: str
    public_key: bytes
    link: LinkKeys


class Keystore:
    """The paired peers of one device, with their roles, link keys, and the revoked key ids."""

    def __init__(self, persistence: Persistence, name: str = "keystore"):
        self._persistence = persistence
        self._name = name
        self._peers: dict[bytes, PeerRecord] = {}
        self._revoked: set[bytes] = set()
        self._load()

    def _load(self) -> None:
        data = self._persistence.load(self._name)
        if data is None:
            return
        try:
            stored = codec.decode(data, "keystore")
            if type(stored) is not dict or set(stored) != {"peers", "revoked"}:
                raise ValueError("expected peers and revoked")
            peers, revoked = stored["peers"], stored["revoked"]
            if type(peers) is not list or type(revoked) is not list:
                raise ValueError("peers and revoked are lists")
            for entry in peers:
                record = _record_from(entry)
                self._peers[record.key_id] = record
            if not all(type(key_id) is bytes for key_id in revoked):
                raise ValueError("revoked key ids are byte strings")
            self._revoked = set(revoked)
        except (Rejected, ValueError) as exc:
            raise StoreDamaged(self._name, str(exc)) from None

    def _save(self) -> None:
        peers = [
            [
                p.key_id,
                p.role.value,
                p.label,
                p.public_key,
                p.link.link_id,
                p.link.client_to_pump,
                p.link.pump_to_client,
            ]
            for p in self._peers.values()
        ]
        self._persistence.save(self._name, codec.encode({"peers": peers, "revoked": sorted(self._revoked)}))

    def get(self, key_id: bytes) -> PeerRecord | None:
        """The paired peer with this key id, or None."""
        return self._peers.get(key_id)

    def peers(self) -> list[PeerRecord]:
        """Every paired peer."""
        return list(self._peers.values())

    def is_revoked(self, key_id: bytes) -> bool:
        """Whether this key id was revoked."""
        return key_id in self._revoked

    def revoked(self) -> list[bytes]:
        """Every revoked key id."""
        return sorted(self._revoked)

    def add(self, record: PeerRecord) -> PeerRecord | None:
        """Store a paired peer, replacing an earlier pairing of the same key, which is returned."""
        if record.key_id in self._revoked:
            raise Rejected(RejectCode.KEY_REVOKED, f"key {record.key_id.hex()} is revoked and cannot pair")
        previous = self._peers.get(record.key_id)
        self._peers[record.key_id] = record
        self._save()
        return previous

    def revoke(self, key_id: bytes) -> PeerRecord | None:
        """Revoke a key id for good and forget its pairing, which is returned."""
        self._revoked.add(key_id)
        removed = self._peers.pop(key_id, None)
        self._save()
        return removed


def _record_from(entry: object) -> PeerRecord:
    if type(entry) is not list or len(entry) != 7:
        raise ValueError("a peer entry has 7 fields")
    key_id, role, label, public_key, link_id, to_pump, to_client = entry
    if type(role) is not str or type(label) is not str or role not in _ROLES:
        raise ValueError("a peer's role and label are text")
    if not all(type(part) is bytes for part in (key_id, public_key, link_id, to_pump, to_client)):
        raise ValueError("a peer's keys are byte strings")
    return PeerRecord(key_id, Role(role), label, public_key, LinkKeys(link_id, to_pump, to_client))
