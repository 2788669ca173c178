/**
 * Authenticode signer extraction (src/pe/authenticode.ts, src/pe/der.ts).
 *
 * Three sources of signature bytes:
 *  - the signed fixture drivers listed in test/fixtures/manifest.json (real osslsigncode
 *    output; that block is skipped only while the manifest does not exist yet),
 *  - a PKCS#7 SignedData built here from node:crypto keys (deterministic structure, lets us
 *    cover every signing-time form, decoy certificates and name escaping),
 *  - mutations of both, done in memory (truncation, flipped lengths, deep nesting).
 */
import { createHash, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_NESTING_DEPTH, readAuthenticode } from '../src/pe/authenticode.js';
import { DerReader } from '../src/pe/der.js';
import { PeFormatError } from '../src/pe/errors.js';
import type { AuthenticodeSignature } from '../src/pe/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const MANIFEST = join(FIXTURES, 'manifest.json');

// =======================================================================================
// Test-only DER encoder and a generic tree (for building and editing signatures).

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}
const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const set = (...p: Buffer[]) => tlv(0x31, ...p);
const ctx = (n: number, ...p: Buffer[]) => tlv(0xa0 + n, ...p);
const octets = (b: Buffer) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const printable = (s: string) => tlv(0x13, Buffer.from(s, 'latin1'));
const derNull = () => Buffer.from([0x05, 0x00]);
function oidBody(dotted: string): Buffer {
  const arcs = dotted.split('.').map(BigInt);
  const out: number[] = [];
  const push = (v: bigint) => {
    const group: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  };
  push(arcs[0] * 40n + arcs[1]);
  arcs.slice(2).forEach(push);
  return Buffer.from(out);
}
const oid = (dotted: string) => tlv(0x06, oidBody(dotted));
function integer(hexDigits: string): Buffer {
  let b = Buffer.from(hexDigits.length % 2 ? '0' + hexDigits : hexDigits, 'hex');
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}
function utcTime(iso: string): Buffer {
  const d = new Date(iso);
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Buffer.from(s, 'latin1'));
}
const generalizedTime = (s: string) => tlv(0x18, Buffer.from(s, 'latin1'));

/** A generic DER tree: constructed nodes have `kids`, primitive ones a `body`. */
interface Node {
  tag: number;
  kids: Node[] | null;
  body: Buffer;
}
/** Parses trusted DER into a tree (test-only; no hostile-input care beyond a depth cap). */
function parseTree(buf: Buffer, pos = 0, end = buf.length, depth = 0): Node[] {
  if (depth > 64) throw new Error('parseTree: too deep');
  const out: Node[] = [];
  while (pos < end) {
    const tag = buf[pos];
    let len = buf[pos + 1];
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i];
      hdr += n;
    }
    const body = buf.subarray(pos + hdr, pos + hdr + len);
    out.push({ tag, body, kids: tag & 0x20 ? parseTree(buf, pos + hdr, pos + hdr + len, depth + 1) : null });
    pos += hdr + len;
  }
  return out;
}
function encodeTree(n: Node): Buffer {
  return n.kids ? tlv(n.tag, ...n.kids.map(encodeTree)) : tlv(n.tag, n.body);
}
function isAttr(attr: Node, dotted: string): boolean {
  return attr.kids !== null && attr.kids[0].tag === 0x06 && attr.kids[0].body.equals(oidBody(dotted));
}
/** The SignerInfo node of a ContentInfo tree. */
function signerInfoOf(contentInfo: Node): Node {
  const signedData = contentInfo.kids![1].kids![0];
  return signedData.kids![signedData.kids!.length - 1].kids![0];
}
/** Rewrites a ContentInfo: drops attributes `drop` and appends `addUnauth` attributes. */
function editSignature(contentInfo: Buffer, edit: { dropAuth?: string[]; dropUnauth?: string[]; addUnauth?: Buffer[] }): Buffer {
  const ci = parseTree(contentInfo)[0];
  const si = signerInfoOf(ci);
  const auth = si.kids!.find((k) => k.tag === 0xa0);
  if (auth && edit.dropAuth) auth.kids = auth.kids!.filter((a) => !edit.dropAuth!.some((o) => isAttr(a, o)));
  let unauth = si.kids!.find((k) => k.tag === 0xa1);
  if (!unauth && edit.addUnauth?.length) si.kids!.push((unauth = { tag: 0xa1, kids: [], body: Buffer.alloc(0) }));
  if (unauth) {
    if (edit.dropUnauth) unauth.kids = unauth.kids!.filter((a) => !edit.dropUnauth!.some((o) => isAttr(a, o)));
    for (const a of edit.addUnauth ?? []) unauth.kids!.push(parseTree(a)[0]);
    if (unauth.kids!.length === 0) si.kids = si.kids!.filter((k) => k !== unauth);
  }
  return encodeTree(ci);
}

// =======================================================================================
// Building signatures from node:crypto keys.

const OIDS = {
  signedData: '1.2.840.113549.1.7.2',
  spcIndirectData: '1.3.6.1.4.1.311.2.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  counterSignature: '1.2.840.113549.1.9.6',
  nested: '1.3.6.1.4.1.311.2.4.1',
  rfc3161: '1.3.6.1.4.1.311.3.3.1',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecPublicKey: '1.2.840.10045.2.1',
  cn: '2.5.4.3',
  o: '2.5.4.10',
  c: '2.5.4.6',
  ou: '2.5.4.11',
};

/** Name from [oid, value] pairs in DER order (most general first). */
function name(...attrs: [string, string][]): Buffer {
  return seq(...attrs.map(([o, v]) => set(seq(oid(o), o === OIDS.c ? printable(v) : utf8(v)))));
}

interface Party {
  key: KeyObject;
  spki: Buffer;
  name: Buffer;
}
function party(nameDer: Buffer): Party {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { key: privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }), name: nameDer };
}
function certificate(subject: Party, issuer: Party, serialHex: string): Buffer {
  const alg = seq(oid(OIDS.ecdsaSha256));
  const tbs = seq(
    ctx(0, integer('02')),
    integer(serialHex),
    alg,
    issuer.name,
    seq(utcTime('2020-01-01T00:00:00Z'), utcTime('2040-01-01T00:00:00Z')),
    subject.name,
    subject.spki,
  );
  const signature = sign('sha256', tbs, issuer.key);
  return seq(tbs, alg, tlv(0x03, Buffer.from([0]), signature));
}
function attribute(type: string, ...values: Buffer[]): Buffer {
  return seq(oid(type), set(...values));
}
function signerInfo(opts: { issuer: Party; serialHex: string; digest: string; auth?: Buffer[]; unauth?: Buffer[]; key: KeyObject }): Buffer {
  const auth = opts.auth ? ctx(0, ...opts.auth) : Buffer.alloc(0);
  // The signature is real ECDSA over the attributes, though nothing here verifies it.
  const sig = sign('sha256', opts.auth ? set(...opts.auth) : Buffer.from('content'), opts.key);
  return seq(
    integer('01'),
    seq(opts.issuer.name, integer(opts.serialHex)),
    seq(oid(opts.digest), derNull()),
    auth,
    seq(oid(OIDS.ecdsaSha256)),
    octets(sig),
    opts.unauth?.length ? tlv(0xa1, ...opts.unauth) : Buffer.alloc(0),
  );
}
function contentInfo(content: Buffer, certs: Buffer[], signer: Buffer, digest: string): Buffer {
  const sd = seq(integer('01'), set(seq(oid(digest), derNull())), content, ctx(0, ...certs), set(signer));
  return seq(oid(OIDS.signedData), ctx(0, sd));
}

const root = party(name([OIDS.c, 'US'], [OIDS.o, 'Synthetic Root Org'], [OIDS.cn, 'Synthetic Root CA']));
const other = party(name([OIDS.o, 'Other CA Org'], [OIDS.cn, 'Other CA']));
const leaf = party(name([OIDS.c, 'DE'], [OIDS.o, 'Fabrikam, Inc.'], [OIDS.ou, 'Kernel'], [OIDS.cn, 'Fabrikam Driver Signer']));
const tsa = party(name([OIDS.o, 'Synthetic TSA Org'], [OIDS.cn, 'Synthetic TSA']));
const LEAF_SERIAL = '8A0102030405060708';
const rootCert = certificate(root, root, '01');
const leafCert = certificate(leaf, root, LEAF_SERIAL);
// Decoys: same serial under another issuer, and same issuer with another serial.
const decoySameSerial = certificate(leaf, other, LEAF_SERIAL);
const decoySameIssuer = certificate(party(name([OIDS.cn, 'Decoy'])), root, '8A0102030405060709');
const tsaCert = certificate(tsa, root, '7F');

const indirectData = seq(oid(OIDS.spcIndirectData), ctx(0, seq(seq(oid('1.3.6.1.4.1.311.2.1.15')), seq(seq(oid(OIDS.sha256), derNull()), octets(Buffer.alloc(32, 0xab))))));

/** A counter-signature (legacy Authenticode timestamp) signed at `time`. */
function counterSignatureAttr(time: string): Buffer {
  const si = signerInfo({ issuer: root, serialHex: '7F', digest: OIDS.sha1, key: tsa.key, auth: [attribute(OIDS.contentType, oid('1.2.840.113549.1.7.1')), attribute(OIDS.signingTime, utcTime(time))] });
  return attribute(OIDS.counterSignature, si);
}
/** An RFC 3161 timestamp token (Microsoft's unauthenticated attribute) with genTime `genTime`. */
function rfc3161Attr(genTime: string): Buffer {
  const tstInfo = seq(integer('01'), oid('1.2.3.4.1'), seq(seq(oid(OIDS.sha256), derNull()), octets(Buffer.alloc(32, 1))), integer('1234'), generalizedTime(genTime));
  const encap = seq(oid(OIDS.tstInfo), ctx(0, octets(tstInfo)));
  const si = signerInfo({ issuer: root, serialHex: '7F', digest: OIDS.sha256, key: tsa.key, auth: [attribute(OIDS.contentType, oid(OIDS.tstInfo))] });
  return attribute(OIDS.rfc3161, contentInfo(encap, [tsaCert, rootCert], si, OIDS.sha256));
}

interface SyntheticOptions {
  digest?: string;
  signingTime?: string | null;
  unauth?: Buffer[];
}
/** A synthetic Authenticode ContentInfo; certificates deliberately NOT in signer-first order. */
function syntheticSignature(opts: SyntheticOptions = {}): Buffer {
  const digest = opts.digest ?? OIDS.sha256;
  const auth = [attribute(OIDS.contentType, oid(OIDS.spcIndirectData)), attribute(OIDS.messageDigest, octets(Buffer.alloc(32, 7)))];
  if (opts.signingTime !== null) auth.splice(1, 0, attribute(OIDS.signingTime, utcTime(opts.signingTime ?? '2021-06-01T12:00:00Z')));
  const si = signerInfo({ issuer: root, serialHex: LEAF_SERIAL, digest, key: leaf.key, auth, unauth: opts.unauth });
  return contentInfo(indirectData, [rootCert, decoySameSerial, decoySameIssuer, tsaCert, leafCert], si, digest);
}

/**
 * A fake file: 0x200 bytes of filler, then a certificate table holding `pkcs7` in one
 * WIN_CERTIFICATE (padded to 8 bytes, as signing tools do).
 */
interface Sample {
  label: string;
  buf: Buffer;
  offset: number;
  size: number;
}
function wrapTable(pkcs7: Buffer, label = 'synthetic'): Sample {
  const entryLength = 8 + pkcs7.length;
  const padded = Math.ceil(entryLength / 8) * 8;
  const entry = Buffer.alloc(padded);
  entry.writeUInt32LE(padded, 0);
  entry.writeUInt16LE(0x0200, 4);
  entry.writeUInt16LE(2, 6);
  pkcs7.copy(entry, 8);
  const prefix = Buffer.alloc(0x200, 0xcc);
  return { label, buf: Buffer.concat([prefix, entry]), offset: prefix.length, size: padded };
}
const read = (s: Sample) => readAuthenticode(s.buf, s.offset, s.size);

/** The PKCS#7 bytes of a sample's first WIN_CERTIFICATE. */
function pkcs7Of(s: Sample): Buffer {
  const len = s.buf.readUInt32LE(s.offset);
  const start = s.offset + 8;
  const r = new DerReader(s.buf);
  const el = r.read(start, s.offset + len);
  return Buffer.from(s.buf.subarray(start, el.end));
}

/** Runs `fn` and returns the PeFormatError it throws (fails the test on anything else). */
function formatError(fn: () => unknown): PeFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PeFormatError) return err;
    throw err;
  }
  throw new Error('expected a PeFormatError, but the call succeeded');
}

// =======================================================================================
// Fixture drivers (real osslsigncode signatures)

interface ManifestSigner {
  cn: string | null;
  o: string | null;
  issuerCn: string | null;
  nested: number | boolean | unknown[];
}
interface FixtureEntry {
  file: string;
  signer: ManifestSigner;
}

/** Certificate table (data directory 4) of a PE file: parsed here on purpose, independently of src/pe/read.ts. */
function certificateDirectory(buf: Buffer): { offset: number; size: number } {
  const pe = buf.readUInt32LE(0x3c);
  expect(buf.readUInt32LE(pe), 'PE signature').toBe(0x4550);
  const opt = pe + 24;
  const magic = buf.readUInt16LE(opt);
  expect([0x10b, 0x20b], 'optional header magic').toContain(magic);
  const count = buf.readUInt32LE(opt + (magic === 0x20b ? 108 : 92));
  expect(count, 'NumberOfRvaAndSizes').toBeGreaterThan(4);
  const dir = opt + (magic === 0x20b ? 112 : 96) + 4 * 8;
  return { offset: buf.readUInt32LE(dir), size: buf.readUInt32LE(dir + 4) };
}

/** Manifest entries with a signer (`test/fixtures/manifest.json`, `{ binaries: [...] }`). */
function signedFixtures(): FixtureEntry[] {
  const raw = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { binaries: Record<string, unknown>[] };
  const list = raw.binaries;
  return list
    .filter((e) => e.signer !== null && e.signer !== undefined)
    .map((e) => {
      const found = join(FIXTURES, e.file as string);
      if (!existsSync(found)) throw new Error(`manifest lists ${String(e.file)}, which is not at ${found}`);
      return { file: found, signer: e.signer as ManifestSigner };
    });
}

function nestedCount(n: ManifestSigner['nested']): number {
  if (typeof n === 'number') return n;
  if (Array.isArray(n)) return n.length;
  return n ? 1 : 0;
}

const fixtures = signedFixtures();
const fixtureSamples: Sample[] = fixtures.map((f) => {
  const buf = readFileSync(f.file);
  const { offset, size } = certificateDirectory(buf);
  return { label: f.file.slice(ROOT.length + 1), buf, offset, size };
});

describe('signed fixture drivers (test/fixtures/manifest.json)', () => {
  it('the manifest lists at least one signed driver', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it.each(fixtures.map((f, i) => [fixtureSamples[i].label, f, fixtureSamples[i]] as const))('%s', (_label, entry, sample) => {
    expect(sample.size, 'certificate table size').toBeGreaterThan(0);
    const sig = read(sample);
    expect(sig).not.toBeNull();
    expect(sig!.status).toBe('signed (not verified)');
    expect(sig!.signer.cn).toBe(entry.signer.cn);
    expect(sig!.signer.o).toBe(entry.signer.o);
    expect(sig!.issuer.cn).toBe(entry.signer.issuerCn);
    expect(sig!.nested).toHaveLength(nestedCount(entry.signer.nested));
    if (Array.isArray(entry.signer.nested)) {
      // When the manifest describes each nested signer, check their names too.
      entry.signer.nested.forEach((n, i) => {
        const want = n as Partial<ManifestSigner>;
        if (typeof want.cn === 'string') expect(sig!.nested[i].signer.cn).toBe(want.cn);
        if (typeof want.issuerCn === 'string') expect(sig!.nested[i].issuer.cn).toBe(want.issuerCn);
      });
    }
    for (const s of [sig!, ...sig!.nested]) {
      expect(s.serialNumber).toMatch(/^[0-9A-F]+$/);
      expect(['md5', 'sha1', 'sha256', 'sha384', 'sha512']).toContain(s.digestAlgorithm);
      // osslsigncode always writes a PKCS#9 signingTime authenticated attribute.
      expect(s.signingTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(s.signer.text).toContain(`CN=`);
    }
  });
});

// =======================================================================================
// Synthetic signatures: structure, names, signing-time forms, nesting

describe('readAuthenticode on synthetic signatures', () => {
  it('returns null for an empty certificate table', () => {
    expect(readAuthenticode(Buffer.alloc(16), 0, 0)).toBeNull();
    expect(readAuthenticode(Buffer.alloc(16), 8, 0)).toBeNull();
  });

  it('finds the signer by issuer + serial among decoys, not by position', () => {
    const sig = read(wrapTable(syntheticSignature()))!;
    const x509 = new X509Certificate(leafCert);
    expect(sig).toEqual<AuthenticodeSignature>({
      status: 'signed (not verified)',
      signer: { cn: 'Fabrikam Driver Signer', o: 'Fabrikam, Inc.', text: 'CN=Fabrikam Driver Signer, OU=Kernel, O=Fabrikam\\, Inc., C=DE' },
      issuer: { cn: 'Synthetic Root CA', o: 'Synthetic Root Org', text: 'CN=Synthetic Root CA, O=Synthetic Root Org, C=US' },
      serialNumber: x509.serialNumber,
      digestAlgorithm: 'sha256',
      signingTime: '2021-06-01T12:00:00.000Z',
      nested: [],
    });
    expect(sig.serialNumber).toBe(LEAF_SERIAL);
    // Cross-check the names against Node's own certificate parser.
    expect(x509.subject).toContain(`CN=${sig.signer.cn}`);
    expect(x509.issuer).toContain(`CN=${sig.issuer.cn}`);
  });

  it('reports sha1 and unknown digest algorithms', () => {
    expect(read(wrapTable(syntheticSignature({ digest: OIDS.sha1 })))!.digestAlgorithm).toBe('sha1');
    expect(read(wrapTable(syntheticSignature({ digest: '1.2.3.4.5' })))!.digestAlgorithm).toBe('1.2.3.4.5');
  });

  describe('signing time', () => {
    it("prefers a timestamp authority's time (RFC 3161, then counter-signature) over the signer's own claim", () => {
      const sig = read(wrapTable(syntheticSignature({ signingTime: '2019-03-04T05:06:07Z', unauth: [counterSignatureAttr('2022-01-01T00:00:00Z'), rfc3161Attr('20230101000000Z')] })));
      expect(sig!.signingTime).toBe('2023-01-01T00:00:00.000Z');
      const counter = read(wrapTable(syntheticSignature({ signingTime: '2019-03-04T05:06:07Z', unauth: [counterSignatureAttr('2022-01-01T00:00:00Z')] })));
      expect(counter!.signingTime).toBe('2022-01-01T00:00:00.000Z');
      const own = read(wrapTable(syntheticSignature({ signingTime: '2019-03-04T05:06:07Z' })));
      expect(own!.signingTime).toBe('2019-03-04T05:06:07.000Z');
    });
    it('falls back to a PKCS#9 counter-signature', () => {
      const sig = read(wrapTable(syntheticSignature({ signingTime: null, unauth: [counterSignatureAttr('2022-02-03T04:05:06Z')] })));
      expect(sig!.signingTime).toBe('2022-02-03T04:05:06.000Z');
    });
    it('falls back to an RFC 3161 timestamp token (genTime with fraction)', () => {
      const sig = read(wrapTable(syntheticSignature({ signingTime: null, unauth: [rfc3161Attr('20231114221320.25Z')] })));
      expect(sig!.signingTime).toBe('2023-11-14T22:13:20.250Z');
    });
    it('is null when there is none', () => {
      expect(read(wrapTable(syntheticSignature({ signingTime: null })))!.signingTime).toBeNull();
    });
    it('reads UTCTime years before 2050 as 20xx and from 50 as 19xx', () => {
      expect(read(wrapTable(syntheticSignature({ signingTime: '1999-12-31T23:59:59Z' })))!.signingTime).toBe('1999-12-31T23:59:59.000Z');
      expect(read(wrapTable(syntheticSignature({ signingTime: '2049-01-01T00:00:00Z' })))!.signingTime).toBe('2049-01-01T00:00:00.000Z');
    });
  });

  it('reads nested signatures (dual signing), each a full SignedData', () => {
    const inner1 = syntheticSignature({ digest: OIDS.sha256, signingTime: '2020-01-01T00:00:00Z' });
    const inner2 = syntheticSignature({ digest: OIDS.sha256, signingTime: '2020-01-02T00:00:00Z' });
    // osslsigncode puts all nested signatures as values of ONE attribute; signtool-style files
    // may use one attribute per signature. Both are counted.
    const sig = read(wrapTable(syntheticSignature({ digest: OIDS.sha1, unauth: [attribute(OIDS.nested, inner1, inner2), attribute(OIDS.nested, inner1)] })))!;
    expect(sig.digestAlgorithm).toBe('sha1');
    expect(sig.nested.map((n) => n.signingTime)).toEqual(['2020-01-01T00:00:00.000Z', '2020-01-02T00:00:00.000Z', '2020-01-01T00:00:00.000Z']);
    expect(sig.nested.every((n) => n.signer.cn === 'Fabrikam Driver Signer' && n.digestAlgorithm === 'sha256')).toBe(true);
  });

  it('escapes names so a hostile value cannot forge a field or a line', () => {
    const evil = party(name([OIDS.o, 'Evil\nCN=Microsoft Windows'], [OIDS.cn, ' #x+y;z<>"\\ ']));
    const cert = certificate(evil, root, '05');
    const si = signerInfo({ issuer: root, serialHex: '05', digest: OIDS.sha256, key: evil.key });
    const sig = read(wrapTable(contentInfo(indirectData, [cert], si, OIDS.sha256)))!;
    expect(sig.signer.cn).toBe(' #x+y;z<>"\\ ');
    expect(sig.signer.o).toBe('Evil\nCN=Microsoft Windows');
    expect(sig.signer.text).toBe('CN=\\ #x\\+y\\;z\\<\\>\\"\\\\\\ , O=Evil\\0ACN=Microsoft Windows');
    expect(sig.signer.text).not.toContain('\n');
  });

  it('skips non-PKCS WIN_CERTIFICATE entries before the signature', () => {
    const s = wrapTable(syntheticSignature());
    const x509Entry = Buffer.alloc(16);
    x509Entry.writeUInt32LE(13, 0); // unaligned length: the next entry starts at the 8-byte boundary
    x509Entry.writeUInt16LE(0x0200, 4);
    x509Entry.writeUInt16LE(1, 6); // WIN_CERT_TYPE_X509
    const buf = Buffer.concat([s.buf.subarray(0, s.offset), x509Entry, s.buf.subarray(s.offset)]);
    expect(readAuthenticode(buf, s.offset, s.size + 16)!.signer.cn).toBe('Fabrikam Driver Signer');
  });
});

// =======================================================================================
// Robustness: every malformed table is a PeFormatError with a file offset, never a hang.

const synthetic = wrapTable(
  syntheticSignature({ unauth: [counterSignatureAttr('2022-01-01T00:00:00Z'), rfc3161Attr('20230101000000Z'), attribute(OIDS.nested, syntheticSignature())] }),
);
const robustnessSamples: Sample[] = [synthetic, ...fixtureSamples.slice(0, 3)];

/** Every TLV header in a DER blob: start offset (relative to the blob) and header length. */
function headers(der: Buffer, pos = 0, end = der.length, out: { start: number; hdr: number }[] = []): { start: number; hdr: number }[] {
  while (pos < end) {
    const first = der[pos + 1];
    const hdr = first & 0x80 ? 2 + (first & 0x7f) : 2;
    let len = first & 0x80 ? 0 : first;
    for (let i = 2; i < hdr; i++) len = len * 256 + der[pos + i];
    out.push({ start: pos, hdr });
    if (der[pos] & 0x20) headers(der, pos + hdr, pos + hdr + len, out);
    pos += hdr + len;
  }
  return out;
}

describe.each(robustnessSamples.map((s) => [s.label, s] as const))('robustness (%s)', (_label, sample) => {
  const tableEnd = sample.offset + sample.size;
  /** A PeFormatError whose offset lies inside the certificate table. */
  function expectTableError(fn: () => unknown): PeFormatError {
    const err = formatError(fn);
    expect(err.part).toBe('certificate');
    expect(err.offset).not.toBeNull();
    expect(err.offset!).toBeGreaterThanOrEqual(sample.offset);
    expect(err.offset!).toBeLessThan(tableEnd);
    return err;
  }

  it('the unmodified sample parses', () => {
    expect(read(sample)).not.toBeNull();
  });

  it('a table that does not fit in the file is an error at the table offset', () => {
    const err = formatError(() => readAuthenticode(sample.buf.subarray(0, tableEnd - 1), sample.offset, sample.size));
    expect(err.offset).toBe(sample.offset);
    expect(formatError(() => readAuthenticode(sample.buf, sample.buf.length + 8, 16)).offset).toBe(sample.buf.length + 8);
  });

  it('a WIN_CERTIFICATE dwLength beyond the table is an error at the entry', () => {
    const buf = Buffer.from(sample.buf);
    buf.writeUInt32LE(sample.size + 8, sample.offset);
    const err = expectTableError(() => readAuthenticode(buf, sample.offset, sample.size));
    expect(err.offset).toBe(sample.offset);
    expect(err.message).toMatch(/runs past the end of the certificate table/);
    buf.writeUInt32LE(0xffffffff, sample.offset);
    expect(expectTableError(() => readAuthenticode(buf, sample.offset, sample.size)).offset).toBe(sample.offset);
    buf.writeUInt32LE(4, sample.offset);
    expect(expectTableError(() => readAuthenticode(buf, sample.offset, sample.size)).message).toMatch(/smaller than its 8-byte header/);
  });

  it('every truncation of the signature (table and dwLength cut together) is an error', () => {
    const der = pkcs7Of(sample);
    const buf = Buffer.from(sample.buf);
    const started = Date.now();
    // Every cut point inside the DER blob: the outer length then runs past the entry.
    for (let cut = 8; cut < 8 + der.length; cut++) {
      buf.writeUInt32LE(cut, sample.offset);
      const err = expectTableError(() => readAuthenticode(buf, sample.offset, cut));
      expect(err.offset!).toBeLessThanOrEqual(sample.offset + cut);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the outer length byte set to 0xff, 0x80 (indefinite), 0x85 (5-byte length) or 0x7f is an error', () => {
    const at = sample.offset + 8 + 1; // length byte of the ContentInfo
    for (const [byte, message] of [
      [0xff, /too large/],
      [0x80, /indefinite length/],
      [0x85, /too large/],
      [0x7f, /./], // a short length: what breaks next depends on the bytes that follow
    ] as const) {
      const buf = Buffer.from(sample.buf);
      buf[at] = byte;
      const err = expectTableError(() => readAuthenticode(buf, sample.offset, sample.size));
      expect(err.message).toMatch(message);
      if (byte !== 0x7f) expect(err.offset).toBe(sample.offset + 8);
    }
  });

  it('flipping any length byte anywhere gives a PeFormatError or a result, never a crash', () => {
    const der = pkcs7Of(sample);
    const base = sample.offset + 8;
    const all = headers(der);
    // Bound the work for big fixtures: every header up to 4000, evenly spread.
    const step = Math.max(1, Math.ceil(all.length / 4000));
    const started = Date.now();
    let errors = 0;
    for (let i = 0; i < all.length; i += step) {
      const { start, hdr } = all[i];
      for (const mutate of [(b: number) => b ^ 0x01, (b: number) => b ^ 0x80, () => 0xff]) {
        const buf = Buffer.from(sample.buf);
        const at = base + start + hdr - 1; // last length byte
        buf[at] = mutate(buf[at]);
        try {
          readAuthenticode(buf, sample.offset, sample.size);
        } catch (err) {
          if (!(err instanceof PeFormatError)) throw err;
          expect(err.offset).not.toBeNull();
          expect(err.offset!).toBeGreaterThanOrEqual(sample.offset);
          expect(err.offset!).toBeLessThan(tableEnd);
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it(`nested signatures deeper than ${MAX_NESTING_DEPTH} levels are an error, not a stack overflow`, () => {
    const base = pkcs7Of(sample);
    const nest = (levels: number) => {
      let sig = editSignature(base, { dropUnauth: [OIDS.nested] });
      for (let i = 0; i < levels; i++) sig = editSignature(base, { dropUnauth: [OIDS.nested], addUnauth: [attribute(OIDS.nested, sig)] });
      return wrapTable(sig, 'nested');
    };
    // At the limit: fine, and the chain is as deep as built.
    let sig = read(nest(MAX_NESTING_DEPTH))!;
    for (let depth = 0; depth < MAX_NESTING_DEPTH; depth++) {
      expect(sig.nested).toHaveLength(1);
      sig = sig.nested[0];
    }
    expect(sig.nested).toHaveLength(0);
    const deep = nest(MAX_NESTING_DEPTH + 1);
    const err = formatError(() => read(deep));
    expect(err.message).toMatch(/nested signatures deeper than/);
    expect(err.offset!).toBeGreaterThan(deep.offset);
  });

  it('random bytes in place of the signature are an error', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 200; round++) {
      const buf = Buffer.from(sample.buf);
      const n = 1 + (round % 64);
      for (let i = 0; i < n; i++) buf[sample.offset + 8 + ((rand() << 8) | rand()) % (sample.size - 8)] = rand();
      try {
        readAuthenticode(buf, sample.offset, sample.size);
      } catch (err) {
        if (!(err instanceof PeFormatError)) throw err;
        expect(err.offset!).toBeGreaterThanOrEqual(sample.offset);
        expect(err.offset!).toBeLessThan(tableEnd);
      }
    }
  });
});

describe('robustness (hand-made garbage)', () => {
  it('100,000 nested SEQUENCE headers are rejected quickly', () => {
    // 0x30 0x84 <len> repeated: each header claims the rest of the buffer.
    const levels = 100_000;
    const der = Buffer.alloc(levels * 6);
    for (let i = 0; i < levels; i++) {
      der[i * 6] = 0x30;
      der[i * 6 + 1] = 0x84;
      der.writeUInt32BE(der.length - (i + 1) * 6, i * 6 + 2);
    }
    const s = wrapTable(der);
    const started = Date.now();
    const err = formatError(() => read(s));
    expect(err.offset!).toBeGreaterThanOrEqual(s.offset);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a table with only zeros, or only non-PKCS entries, is an error', () => {
    expect(formatError(() => readAuthenticode(Buffer.alloc(64), 16, 32)).message).toMatch(/smaller than its 8-byte header/);
    const entry = Buffer.alloc(16);
    entry.writeUInt32LE(16, 0);
    entry.writeUInt16LE(0x0200, 4);
    entry.writeUInt16LE(1, 6);
    expect(formatError(() => readAuthenticode(entry, 0, 16)).message).toMatch(/no PKCS#7 signed-data entry/);
  });

  it('a signer certificate that is not in the SignedData is an error', () => {
    const si = signerInfo({ issuer: other, serialHex: LEAF_SERIAL, digest: OIDS.sha256, key: leaf.key });
    const s = wrapTable(contentInfo(indirectData, [rootCert, leafCert], si, OIDS.sha256));
    expect(formatError(() => read(s)).message).toMatch(/signer certificate .* not found among 2 certificates/);
  });

  it('the test DER tree helpers round-trip a signature byte for byte', () => {
    // Guards editSignature(): parse + re-encode must reproduce the exact bytes.
    const der = pkcs7Of(synthetic);
    expect(createHash('sha256').update(encodeTree(parseTree(der)[0])).digest('hex')).toBe(createHash('sha256').update(der).digest('hex'));
  });
});

// =======================================================================================
// der.ts details

describe('DerReader', () => {
  const reader = (der: Buffer) => {
    const buf = Buffer.concat([Buffer.alloc(4, 0xee), der]); // offsets in errors are buffer offsets
    const r = new DerReader(buf);
    return { r, el: r.read(4, buf.length) };
  };

  it('decodes OIDs, including the first-arc packing and arcs beyond 2^53', () => {
    for (const dotted of ['1.2.840.113549.1.7.2', '0.9.2342.19200300.100.1.25', '2.999.3', '2.25.329800735698586629295641978511506172918']) {
      const { r, el } = reader(oid(dotted));
      expect(r.oid(el)).toBe(dotted);
    }
  });

  it('rejects malformed OIDs', () => {
    for (const body of [[], [0x2a, 0x86], [0x2a, 0x80, 0x01]]) {
      const { r, el } = reader(tlv(0x06, Buffer.from(body)));
      expect(formatError(() => r.oid(el)).offset).toBe(4);
    }
  });

  it('formats INTEGERs like X509Certificate.serialNumber', () => {
    const hex = (der: Buffer) => {
      const { r, el } = reader(der);
      return r.integerHex(el);
    };
    expect(hex(integer('80ff'))).toBe('80FF'); // encoded 00 80 FF: the sign padding is dropped
    expect(hex(tlv(0x02, Buffer.from([0x00, 0x01])))).toBe('0001'); // non-minimal padding is kept
  });

  it('reads and validates times', () => {
    const t = (der: Buffer) => {
      const { r, el } = reader(der);
      return r.time(el);
    };
    expect(t(generalizedTime('20240229235959Z'))).toBe('2024-02-29T23:59:59.000Z');
    expect(t(generalizedTime('00500101000000Z'))).toBe('0050-01-01T00:00:00.000Z');
    expect(t(tlv(0x17, Buffer.from('9912312359Z')))).toBe('1999-12-31T23:59:00.000Z');
    for (const bad of ['20230229000000Z', '20231301000000Z', '20230101000000', '20230101000000+0100', '2023010100000Z', '20230101240000Z']) {
      expect(formatError(() => t(generalizedTime(bad))).offset).toBe(4);
    }
    expect(formatError(() => t(integer('01'))).message).toMatch(/expected UTCTime or GeneralizedTime/);
  });

  it('bounds every element by its parent', () => {
    // SEQUENCE of 4 bytes whose child claims 3 bytes of content (5 bytes total).
    const buf = Buffer.from([0x30, 0x04, 0x04, 0x03, 0x01, 0x02, 0x99]);
    const r = new DerReader(buf);
    const parent = r.read(0, 7);
    const err = formatError(() => r.children(parent, 'test'));
    expect(err.offset).toBe(2);
    expect(err.message).toMatch(/runs 1 bytes past the end/);
    expect(formatError(() => r.read(0, 5)).offset).toBe(0);
    expect(formatError(() => new DerReader(Buffer.from([0x1f, 0x01, 0x00])).read(0, 3)).message).toMatch(/high-tag-number/);
  });
});

describe('certificate set', () => {
  it('skips a malformed certificate that is not the signer', () => {
    const broken = seq(seq(integer('01')), seq(oid(OIDS.ecdsaSha256)), tlv(0x03, Buffer.from([0])));
    const si = signerInfo({ issuer: root, serialHex: LEAF_SERIAL, digest: OIDS.sha256, key: leaf.key });
    expect(read(wrapTable(contentInfo(indirectData, [broken, rootCert, leafCert], si, OIDS.sha256)))!.signer.cn).toBe('Fabrikam Driver Signer');
    // ... but when nothing matches, that certificate's error is the one reported.
    expect(formatError(() => read(wrapTable(contentInfo(indirectData, [broken, rootCert], si, OIDS.sha256)))).message).toMatch(/tbsCertificate/);
  });
});
