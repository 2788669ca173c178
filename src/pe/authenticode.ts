/**
 * Authenticode signer extraction (no chain verification).
 *
 * Layout walked here (see Microsoft's "Windows Authenticode Portable Executable Signature
 * Format" and RFC 2315 / RFC 5652 / RFC 3161):
 *
 *   certificate table (data directory 4; its "address" is a FILE OFFSET, not an RVA)
 *     WIN_CERTIFICATE { dwLength u32, wRevision u16, wCertificateType u16, bCertificate[] }
 *     ... entries are 8-byte aligned; we use the first WIN_CERT_TYPE_PKCS_SIGNED_DATA (2).
 *
 *   ContentInfo ::= SEQUENCE { contentType OID (signedData), content [0] EXPLICIT SignedData }
 *   SignedData  ::= SEQUENCE { version, digestAlgorithms SET, contentInfo (SpcIndirectData),
 *                              certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL,
 *                              signerInfos SET }
 *   SignerInfo  ::= SEQUENCE { version, issuerAndSerialNumber, digestAlgorithm,
 *                              authenticatedAttributes [0] IMPLICIT OPTIONAL,
 *                              digestEncryptionAlgorithm, encryptedDigest,
 *                              unauthenticatedAttributes [1] IMPLICIT OPTIONAL }
 *
 * The signer certificate is found by matching the SignerInfo's issuer Name (exact DER
 * bytes) and serial number against every certificate in the SignedData: the certificate
 * set is NOT in signer-first order (osslsigncode, for one, writes the CA first).
 *
 * Names are decoded from the certificate's DER here rather than from
 * `crypto.X509Certificate.subject`: its newline-separated text cannot be split safely
 * when a value itself contains a newline or `CN=`, and a hand-rolled decode lets us build
 * the RFC 4514-style string directly. (The tests use `X509Certificate` as an independent
 * oracle for subject/issuer/serial.)
 *
 * All positions are offsets into the whole file buffer, so every `PeFormatError` carries
 * the file offset of the bad element. Hostile input is bounded by: strict TLV bounds
 * (der.ts), a nesting depth limit, a cap on the number of signatures, certificates and
 * table entries, and a cap on the length of decoded name values.
 */
import { DerReader, Tag, type DerElement } from './der.js';
import { PeFormatError } from './errors.js';
import type { AuthenticodeSignature, CertificateName } from './types.js';

const PART = 'certificate';

/** wCertificateType of a PKCS#7 SignedData (Authenticode) entry. */
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 2;
/** wRevision values Windows knows: WIN_CERT_REVISION_1_0 and WIN_CERT_REVISION_2_0. */
const WIN_CERT_REVISIONS = new Set([0x0100, 0x0200]);

/** Nested signatures may hold nested signatures; deeper than this is treated as hostile. */
export const MAX_NESTING_DEPTH = 4;
/** Total signatures (primary + all nested) read from one file. */
export const MAX_SIGNATURES = 32;
/** Certificates considered in one SignedData, and WIN_CERTIFICATE entries in one table. */
const MAX_CERTIFICATES = 512;
const MAX_TABLE_ENTRIES = 64;
/** Longest name attribute value kept in `CertificateName` (longer ones are cut with "…"). */
const MAX_NAME_VALUE_CHARS = 512;

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  /** PKCS#9 signingTime (authenticated attribute). */
  signingTime: '1.2.840.113549.1.9.5',
  /** PKCS#9 counterSignature (legacy Authenticode timestamp; value is a SignerInfo). */
  counterSignature: '1.2.840.113549.1.9.6',
  /** SPC_NESTED_SIGNATURE_OBJID (value is a ContentInfo holding SignedData). */
  nestedSignature: '1.3.6.1.4.1.311.2.4.1',
  /** SPC_RFC3161_OBJID (value is an RFC 3161 TimeStampToken ContentInfo). */
  rfc3161Timestamp: '1.3.6.1.4.1.311.3.3.1',
  /** id-ct-TSTInfo, the eContentType of a TimeStampToken. */
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
} as const;

/** Digest algorithm OIDs -> names (anything else is reported as its dotted OID). */
const DIGEST_NAMES: Record<string, string> = {
  '1.2.840.113549.2.2': 'md2',
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.7': 'sha3-224',
  '2.16.840.1.101.3.4.2.8': 'sha3-256',
  '2.16.840.1.101.3.4.2.9': 'sha3-384',
  '2.16.840.1.101.3.4.2.10': 'sha3-512',
};

/** Short names for Name attributes: RFC 4514's, then OpenSSL's for common extras. */
const NAME_KEYS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.12': 'title',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '1.3.6.1.4.1.311.60.2.1.1': 'jurisdictionL',
  '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

/**
 * Reads the Authenticode signature from the certificate table at file offset
 * `certTableOffset` (`certTableSize` bytes), as given by data directory 4.
 *
 * Returns null when the table is empty (size 0). Throws `PeFormatError('certificate', ...)`
 * with the file offset of the problem when the table or the signature is malformed.
 */
export function readAuthenticode(buf: Buffer, certTableOffset: number, certTableSize: number): AuthenticodeSignature | null {
  if (certTableSize === 0) return null;
  if (
    !Number.isInteger(certTableOffset) ||
    !Number.isInteger(certTableSize) ||
    certTableOffset < 0 ||
    certTableSize < 0 ||
    certTableOffset + certTableSize > buf.length
  ) {
    throw new PeFormatError(
      PART,
      `certificate table of ${certTableSize} bytes does not fit in the file (${buf.length} bytes)`,
      certTableOffset,
    );
  }
  const tableEnd = certTableOffset + certTableSize;
  const r = new DerReader(buf, PART);
  const state: WalkState = { signatures: 0 };

  let pos = certTableOffset;
  for (let entry = 0; pos + 8 <= tableEnd; entry++) {
    if (entry >= MAX_TABLE_ENTRIES) r.fail(`more than ${MAX_TABLE_ENTRIES} WIN_CERTIFICATE entries`, pos);
    const dwLength = buf.readUInt32LE(pos);
    const revision = buf.readUInt16LE(pos + 4);
    const type = buf.readUInt16LE(pos + 6);
    if (dwLength < 8) r.fail(`WIN_CERTIFICATE length ${dwLength} is smaller than its 8-byte header`, pos);
    if (pos + dwLength > tableEnd) {
      r.fail(`WIN_CERTIFICATE of ${dwLength} bytes runs past the end of the certificate table (${tableEnd - pos} bytes left)`, pos);
    }
    if (!WIN_CERT_REVISIONS.has(revision)) r.fail(`unknown WIN_CERTIFICATE revision 0x${revision.toString(16)}`, pos + 4);
    if (type === WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      // bCertificate is the DER ContentInfo; anything after it (alignment padding) is ignored.
      return readSignature(r, pos + 8, pos + dwLength, 0, state);
    }
    pos += align8(dwLength);
  }
  return r.fail('certificate table holds no PKCS#7 signed-data entry', certTableOffset);
}

// ---------------------------------------------------------------------------------------
// Signature (ContentInfo -> SignedData -> SignerInfo)

interface WalkState {
  /** Signatures read so far (primary + nested), against MAX_SIGNATURES. */
  signatures: number;
}

interface SignedDataParts {
  /** encapContentInfo / contentInfo SEQUENCE. */
  content: DerElement;
  /** Certificate SEQUENCEs from `certificates [0]` (other CertificateChoices skipped). */
  certificates: DerElement[];
  signerInfos: DerElement[];
}

interface Attribute {
  oid: string;
  values: DerElement[];
  el: DerElement;
}

interface SignerInfoParts {
  el: DerElement;
  issuer: DerElement;
  serial: DerElement;
  digestAlgorithm: string;
  authenticated: Attribute[];
  unauthenticated: Attribute[];
}

/** One full Authenticode signature starting with the ContentInfo at `pos`. */
function readSignature(r: DerReader, pos: number, limit: number, depth: number, state: WalkState): AuthenticodeSignature {
  if (depth > MAX_NESTING_DEPTH) r.fail(`nested signatures deeper than ${MAX_NESTING_DEPTH} levels`, pos);
  if (++state.signatures > MAX_SIGNATURES) r.fail(`more than ${MAX_SIGNATURES} signatures`, pos);

  const sd = readSignedData(r, pos, limit, 'Authenticode');
  if (sd.signerInfos.length === 0) r.fail('SignedData has no SignerInfo', pos);
  // Authenticode requires exactly one SignerInfo; if there are more, the first is the signer.
  const si = readSignerInfo(r, sd.signerInfos[0], 'SignerInfo');

  const cert = findCertificate(r, sd.certificates, si);
  if (!cert) {
    r.fail(`signer certificate (issuer + serial number) not found among ${sd.certificates.length} certificates`, si.el.start);
  }

  const nested: AuthenticodeSignature[] = [];
  for (const attr of si.unauthenticated) {
    if (attr.oid !== OID.nestedSignature) continue;
    for (const value of attr.values) nested.push(readSignature(r, value.start, value.end, depth + 1, state));
  }

  return {
    status: 'signed (not verified)',
    signer: readName(r, cert.subject),
    issuer: readName(r, cert.issuer),
    serialNumber: r.integerHex(cert.serial, 'certificate serial number'),
    digestAlgorithm: si.digestAlgorithm,
    signingTime: signingTime(r, si),
    nested,
  };
}

/** ContentInfo { signedData, [0] EXPLICIT SignedData } -> the parts we use. */
function readSignedData(r: DerReader, pos: number, limit: number, what: string): SignedDataParts {
  const ci = r.expect(pos, limit, Tag.SEQUENCE, `${what} ContentInfo`);
  const ciKids = r.children(ci, `${what} ContentInfo`, 2);
  if (ciKids.length !== 2) r.fail(`${what} ContentInfo: expected contentType and content`, ci.start);
  const contentType = r.oid(ciKids[0], `${what} contentType`);
  if (contentType !== OID.signedData) r.fail(`${what} ContentInfo: content type ${contentType} is not signedData`, ciKids[0].start);
  const explicit = r.check(ciKids[1], Tag.CTX0, `${what} ContentInfo content`);
  const signedData = r.check(r.single(explicit, `${what} ContentInfo content`), Tag.SEQUENCE, `${what} SignedData`);

  const kids = r.children(signedData, `${what} SignedData`, 6);
  if (kids.length < 4) r.fail(`${what} SignedData: expected at least 4 fields, found ${kids.length}`, signedData.start);
  r.check(kids[0], Tag.INTEGER, `${what} SignedData version`);
  r.check(kids[1], Tag.SET, `${what} SignedData digestAlgorithms`);
  const content = r.check(kids[2], Tag.SEQUENCE, `${what} SignedData contentInfo`);
  let i = 3;
  let certificates: DerElement[] = [];
  if (kids[i].tag === Tag.CTX0) {
    certificates = r
      .children(kids[i], `${what} SignedData certificates`, MAX_CERTIFICATES)
      // CertificateChoices: only plain X.509 certificates (SEQUENCE) can be the signer.
      .filter((c) => c.tag === Tag.SEQUENCE);
    i++;
  }
  if (i < kids.length && kids[i].tag === Tag.CTX1) i++; // crls: not used
  if (i >= kids.length) r.fail(`${what} SignedData: signerInfos missing`, signedData.start);
  if (i !== kids.length - 1) r.fail(`${what} SignedData: unexpected fields before signerInfos`, kids[i].start);
  const signerInfosSet = r.check(kids[i], Tag.SET, `${what} SignedData signerInfos`);
  const signerInfos = r.children(signerInfosSet, `${what} signerInfos`, 16);
  return { content, certificates, signerInfos };
}

/** A SignerInfo (also the shape of a PKCS#9 counter-signature). */
function readSignerInfo(r: DerReader, el: DerElement, what: string): SignerInfoParts {
  r.check(el, Tag.SEQUENCE, what);
  const kids = r.children(el, what, 7);
  if (kids.length < 5) r.fail(`${what}: expected at least 5 fields, found ${kids.length}`, el.start);
  r.check(kids[0], Tag.INTEGER, `${what} version`);
  const sid = kids[1];
  if (sid.tag === 0x80) r.fail(`${what}: signer identified by subjectKeyIdentifier is not supported (Authenticode uses issuerAndSerialNumber)`, sid.start);
  r.check(sid, Tag.SEQUENCE, `${what} issuerAndSerialNumber`);
  const sidKids = r.children(sid, `${what} issuerAndSerialNumber`, 2);
  if (sidKids.length !== 2) r.fail(`${what} issuerAndSerialNumber: expected issuer and serial number`, sid.start);
  const issuer = r.check(sidKids[0], Tag.SEQUENCE, `${what} issuer`);
  const serial = r.check(sidKids[1], Tag.INTEGER, `${what} serial number`);
  const digestAlgorithm = algorithmName(r, kids[2], `${what} digestAlgorithm`);

  let i = 3;
  let authenticated: Attribute[] = [];
  if (kids[i].tag === Tag.CTX0) authenticated = readAttributes(r, kids[i++], `${what} authenticatedAttributes`);
  if (kids.length < i + 2) r.fail(`${what}: missing digestEncryptionAlgorithm or encryptedDigest`, el.start);
  r.check(kids[i++], Tag.SEQUENCE, `${what} digestEncryptionAlgorithm`);
  r.check(kids[i++], Tag.OCTET_STRING, `${what} encryptedDigest`);
  let unauthenticated: Attribute[] = [];
  if (i < kids.length) {
    unauthenticated = readAttributes(r, r.check(kids[i], Tag.CTX1, `${what} unauthenticatedAttributes`), `${what} unauthenticatedAttributes`);
    i++;
  }
  if (i !== kids.length) r.fail(`${what}: unexpected trailing field`, kids[i].start);
  return { el, issuer, serial, digestAlgorithm, authenticated, unauthenticated };
}

/** SET OF Attribute { type OID, values SET }. */
function readAttributes(r: DerReader, set: DerElement, what: string): Attribute[] {
  return r.children(set, what, 256).map((a) => {
    r.check(a, Tag.SEQUENCE, `${what} attribute`);
    const kids = r.children(a, `${what} attribute`, 2);
    if (kids.length !== 2) r.fail(`${what}: attribute needs a type and a value set`, a.start);
    const oid = r.oid(kids[0], `${what} attribute type`);
    const values = r.children(r.check(kids[1], Tag.SET, `${what} ${oid} values`), `${what} ${oid} values`, MAX_SIGNATURES);
    return { oid, values, el: a };
  });
}

/** AlgorithmIdentifier { algorithm OID, parameters ANY OPTIONAL } -> readable name. */
function algorithmName(r: DerReader, el: DerElement, what: string): string {
  r.check(el, Tag.SEQUENCE, what);
  const kids = r.children(el, what, 2);
  if (kids.length === 0) r.fail(`${what}: empty AlgorithmIdentifier`, el.start);
  const oid = r.oid(kids[0], what);
  return DIGEST_NAMES[oid] ?? oid;
}

// ---------------------------------------------------------------------------------------
// Certificates

interface CertificateParts {
  serial: DerElement;
  issuer: DerElement;
  subject: DerElement;
}

/** TBSCertificate { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject, ... } */
function readCertificate(r: DerReader, cert: DerElement): CertificateParts {
  const certKids = r.children(cert, 'Certificate', 3);
  if (certKids.length !== 3) r.fail('Certificate: expected tbsCertificate, signatureAlgorithm, signature', cert.start);
  const tbs = r.check(certKids[0], Tag.SEQUENCE, 'tbsCertificate');
  const kids = r.children(tbs, 'tbsCertificate', 10);
  let i = kids.length > 0 && kids[0].tag === Tag.CTX0 ? 1 : 0;
  if (kids.length < i + 6) r.fail(`tbsCertificate: expected at least ${i + 6} fields, found ${kids.length}`, tbs.start);
  const serial = r.check(kids[i++], Tag.INTEGER, 'certificate serial number');
  r.check(kids[i++], Tag.SEQUENCE, 'certificate signature algorithm');
  const issuer = r.check(kids[i++], Tag.SEQUENCE, 'certificate issuer');
  r.check(kids[i++], Tag.SEQUENCE, 'certificate validity');
  const subject = r.check(kids[i++], Tag.SEQUENCE, 'certificate subject');
  return { serial, issuer, subject };
}

/**
 * The certificate whose issuer Name and serial number equal the SignerInfo's (exact DER).
 * A malformed certificate that is not the signer does not spoil the signature: it is
 * skipped, and its error is thrown only if no certificate matches.
 */
function findCertificate(r: DerReader, certificates: DerElement[], si: SignerInfoParts): CertificateParts | null {
  const wantIssuer = r.bytes(si.issuer);
  const wantSerial = r.content(si.serial);
  let firstError: PeFormatError | null = null;
  for (const el of certificates) {
    let cert: CertificateParts;
    try {
      cert = readCertificate(r, el);
    } catch (err) {
      if (!(err instanceof PeFormatError)) throw err;
      firstError ??= err;
      continue;
    }
    if (r.content(cert.serial).equals(wantSerial) && r.bytes(cert.issuer).equals(wantIssuer)) return cert;
  }
  if (firstError) throw firstError;
  return null;
}

/** Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue). */
function readName(r: DerReader, name: DerElement): CertificateName {
  let cn: string | null = null;
  let o: string | null = null;
  const rdnTexts: string[] = [];
  for (const rdn of r.children(name, 'Name', 64)) {
    r.check(rdn, Tag.SET, 'Name RDN');
    const parts: string[] = [];
    for (const atv of r.children(rdn, 'Name RDN', 16)) {
      r.check(atv, Tag.SEQUENCE, 'Name attribute');
      const kids = r.children(atv, 'Name attribute', 2);
      if (kids.length !== 2) r.fail('Name attribute: expected type and value', atv.start);
      const oid = r.oid(kids[0], 'Name attribute type');
      const decoded = r.string(kids[1]);
      const value = decoded === null ? null : clip(decoded);
      // The last CN / O wins: Names are written most-general first, so it is the most specific.
      if (oid === OID.commonName && value !== null) cn = value;
      if (oid === OID.organization && value !== null) o = value;
      const key = NAME_KEYS[oid] ?? oid;
      // RFC 4514: a value that is not a string is written as '#' + hex of its DER encoding.
      parts.push(`${key}=${value === null ? '#' + clip(r.bytes(kids[1]).toString('hex')) : escapeDnValue(value)}`);
    }
    rdnTexts.push(parts.join('+'));
  }
  // RFC 4514 order is most specific first (the reverse of the DER order), as Windows shows it.
  return { cn, o, text: rdnTexts.reverse().join(', ') };
}

/** RFC 4514 escaping, plus control characters as \XX so the text stays on one line. */
function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) {
      out += '\\' + code.toString(16).toUpperCase().padStart(2, '0');
    } else if ('"+,;<>\\'.includes(ch) || (i === 0 && (ch === '#' || ch === ' ')) || (i === value.length - 1 && ch === ' ')) {
      out += '\\' + ch;
    } else {
      out += ch;
    }
  }
  return out;
}

function clip(s: string): string {
  return s.length > MAX_NAME_VALUE_CHARS ? s.slice(0, MAX_NAME_VALUE_CHARS) + '…' : s;
}

// ---------------------------------------------------------------------------------------
// Signing time

/**
 * The signing time, in order of preference (a timestamp authority's word before the
 * signer's own claim, which any signing tool can set to anything):
 *   1. the genTime of an RFC 3161 timestamp token (Microsoft's 1.3.6.1.4.1.311.3.3.1),
 *   2. the signingTime of a PKCS#9 counter-signature (legacy Authenticode timestamp),
 *   3. the PKCS#9 signingTime authenticated attribute of the signer (osslsigncode always
 *      writes one; signtool does not).
 */
function signingTime(r: DerReader, si: SignerInfoParts): string | null {
  for (const attr of si.unauthenticated) {
    if (attr.oid !== OID.rfc3161Timestamp) continue;
    for (const value of attr.values) return timestampTokenTime(r, value);
  }

  for (const attr of si.unauthenticated) {
    if (attr.oid !== OID.counterSignature) continue;
    for (const value of attr.values) {
      const counter = readSignerInfo(r, value, 'counter-signature');
      const time = attributeTime(r, counter.authenticated, 'counter-signature signingTime');
      if (time !== null) return time;
    }
  }

  return attributeTime(r, si.authenticated, 'signingTime');
}

/** The signingTime attribute among `attrs`, or null. */
function attributeTime(r: DerReader, attrs: Attribute[], what: string): string | null {
  const attr = attrs.find((a) => a.oid === OID.signingTime);
  if (!attr) return null;
  if (attr.values.length === 0) r.fail(`${what}: attribute has no value`, attr.el.start);
  return r.time(attr.values[0], what);
}

/** TimeStampToken (ContentInfo/SignedData with eContent TSTInfo) -> TSTInfo.genTime. */
function timestampTokenTime(r: DerReader, token: DerElement): string {
  const what = 'RFC 3161 timestamp';
  const sd = readSignedData(r, token.start, token.end, what);
  // EncapsulatedContentInfo { eContentType OID, eContent [0] EXPLICIT OCTET STRING }
  const kids = r.children(sd.content, `${what} encapContentInfo`, 2);
  if (kids.length !== 2) r.fail(`${what}: encapContentInfo has no content`, sd.content.start);
  const type = r.oid(kids[0], `${what} eContentType`);
  if (type !== OID.tstInfo) r.fail(`${what}: eContentType ${type} is not TSTInfo`, kids[0].start);
  const octets = r.check(r.single(r.check(kids[1], Tag.CTX0, `${what} eContent`), `${what} eContent`), Tag.OCTET_STRING, `${what} eContent`);
  // TSTInfo { version, policy, messageImprint, serialNumber, genTime, ... }
  const tst = r.expect(octets.contentStart, octets.end, Tag.SEQUENCE, 'TSTInfo');
  const tstKids = r.children(tst, 'TSTInfo', 10);
  if (tstKids.length < 5) r.fail(`TSTInfo: expected at least 5 fields, found ${tstKids.length}`, tst.start);
  return r.time(r.check(tstKids[4], Tag.GENERALIZED_TIME, 'TSTInfo genTime'), 'TSTInfo genTime');
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
