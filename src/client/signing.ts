/**
 * How a client workflow gets signatures: locally, through the signing choke point with
 * Signers it holds (tests, and the daemon itself), or remotely, from notary-hsmd, which
 * signs only metadata it has parsed and checked. Either way the result is verified here
 * against the role's keys and threshold, and turned into the exact file bytes, before
 * anything is published.
 */
import { NotaryHsmError } from '../errors';
import { createRootCertificate } from '../metadata/certificate';
import { EnvelopeHead } from '../metadata/go-json';
import { bareKeyId, TufKey } from '../metadata/keys';
import { signMetadata } from '../metadata/sign';
import {
  canonicalTextOf,
  toWire,
  type RoleModel,
  type Signature,
  type SignedMetadata,
} from '../metadata/signed';
import { verifyThreshold, type Requirement } from '../metadata/verify';
import type { Signer } from '../signer/signer';
import type { KeyView } from '../signing/types';
import { JsonText, type DaemonClient } from './daemon-client';

/** Signed metadata, and how long its signer allows for publishing it (daemon signing). */
export type SignedFile<T extends RoleModel = RoleModel> = SignedMetadata<T> & {
  readonly leaseMs?: number;
};

/** What publishing needs from whoever holds the keys. */
export interface MetadataSigning {
  /** The `ecdsa-x509` root keys (certificates, CN = GUN) for a new repository. */
  rootKeys(gun: string): Promise<TufKey[]>;
  /** The key of the top-level targets role for a new repository. */
  targetsKey(): Promise<TufKey>;
  /**
   * Told, before the repository is read, that `gun` will be signed for: a signer may ask
   * what it needs meanwhile (the daemon's keys for it). Resolves (never rejects) once that
   * has ended, answered or not: the caller waits for it before it returns.
   */
  prepare?(gun: string): Promise<void> | void;
  /** Signed metadata for `role` meeting every requirement. */
  sign<T extends RoleModel>(
    gun: string,
    role: string,
    signed: T,
    requirements: readonly Requirement[],
  ): Promise<SignedFile<T>>;
}

/** The TUF key a signer's public key becomes (`ecdsa` or `ed25519`). */
export function tufKeyOf(signer: Signer): TufKey {
  return signer.scheme === 'ed25519'
    ? TufKey.ed25519(signer.publicKeySpki)
    : TufKey.ecdsa(signer.publicKeySpki);
}

/** Signing with Signers held in this process. */
export function localSigning(opts: {
  rootSigner?: Signer;
  targetsSigner?: Signer;
  signers?: readonly Signer[];
}): MetadataSigning {
  const all = [opts.rootSigner, opts.targetsSigner, ...(opts.signers ?? [])].filter(
    (s): s is Signer => !!s,
  );
  return {
    rootKeys: async (gun) => {
      if (!opts.rootSigner) throw new NotaryHsmError('USAGE', 'no root signer');
      return [await createRootCertificate({ gun, signer: opts.rootSigner })];
    },
    targetsKey: () => {
      if (!opts.targetsSigner)
        return Promise.reject(new NotaryHsmError('USAGE', 'no targets signer'));
      return Promise.resolve(tufKeyOf(opts.targetsSigner));
    },
    sign: (_gun, role, signed, requirements) =>
      signMetadata({ role, signed, requirements, signers: all }),
  };
}

/** What a file needs besides its signatures: its canonical text, the message, the bytes up to the signatures. */
export interface FileParts {
  readonly canonical: string;
  readonly message: Buffer;
  readonly head: EnvelopeHead;
}

/**
 * One canonical encoding of a model (its Go field set) is both the message the signatures
 * must cover and the file's `signed` member. A reader decoding the file gets the same
 * message back: canonical text survives Go's escaping and the parser
 * (test/unit/client/assemble.test.ts reads an assembled file back). `message`, when given,
 * is the text's UTF-8 bytes already made (they are not made again).
 */
export function fileParts(canonical: string, message?: Buffer): FileParts {
  const bytes = message ?? Buffer.from(canonical, 'utf8');
  return { canonical, message: bytes, head: new EnvelopeHead(canonical, bytes) };
}

/**
 * Verifies signatures obtained elsewhere against every requirement and builds the file.
 * throws: THRESHOLD_NOT_MET, CANONICAL_UNREPRESENTABLE
 */
export function assemble<T extends RoleModel>(
  role: string,
  signed: T,
  signatures: readonly Signature[],
  requirements: readonly Requirement[],
  parts: FileParts = fileParts(canonicalTextOf(signed)),
): SignedMetadata<T> {
  const { message } = parts;
  for (const req of requirements) verifyThreshold(message, signatures, req);
  const bytes = parts.head.withSignatures(signatures.map(toWire));
  return { role, signed, signatures, message, bytes };
}

export interface DaemonSigningOptions {
  client: DaemonClient;
  /** Configured key names on the daemon. */
  /** Root key names (a certificate is made for each, for a new repository or a rotation). */
  rootKey?: string | readonly string[];
  targetsKey?: string;
  /** Keys to ask for (default: whatever the daemon allows this client). */
  keys?: string[];
  /** PIN for root tokens whose PIN comes with the request. */
  pin?: string;
}

/**
 * The daemon keys (by name) that can meet `requirements`: those whose key the roles list.
 * Asking the daemon for a signature no requirement can use would only burn a version and
 * leave a misleading record, so too few of them is refused here, before anything is sent.
 * throws: KEY_NOT_HELD
 */
export function daemonKeysFor(
  gun: string,
  role: string,
  offered: readonly KeyView[],
  requirements: readonly Requirement[],
): string[] {
  const names = new Set<string>();
  for (const req of requirements) {
    const wanted = new Set(req.keys.map(bareKeyId));
    const held = offered.filter((k) => wanted.has(k.keyId));
    if (held.length < req.threshold) {
      const listed = req.keys.map((k) => k.id.slice(0, 12)).join(', ') || 'no key';
      const mine = offered.map((k) => `${k.name} (${k.keyId.slice(0, 12)})`).join(', ') || 'none';
      throw new NotaryHsmError(
        'KEY_NOT_HELD',
        `${gun}: ${req.role} must be signed by ${req.threshold} of ${listed}, and notary-hsmd ` +
          `holds ${held.length} of them for this client (its keys for ${gun}: ${mine}); ` +
          `sign ${role} with the key the repository lists, or rotate the role to a daemon key`,
        { details: { gun, role: req.role, threshold: req.threshold, held: held.length } },
      );
    }
    for (const k of held) names.add(k.name);
  }
  return [...names];
}

/** Signing by notary-hsmd over its REST API. */
export function daemonSigning(opts: DaemonSigningOptions): MetadataSigning {
  const { client } = opts;
  const pin = opts.pin === undefined ? {} : { pin: opts.pin };
  /**
   * The keys a request names: the caller's choice, else the daemon keys the requirements
   * list. A root key whose PIN comes with each request is listed by the daemon only once
   * it has been used, so for root with a PIN the daemon picks the keys itself (it signs
   * only with keys whose certificates the root lists).
   */
  /** The daemon's answer to "which keys for gun", asked for by prepare(); taken once. */
  let early: { gun: string; keys: Promise<{ keys: KeyView[] }> } | undefined;
  const keysOffered = (gun: string): Promise<{ keys: KeyView[] }> => {
    const asked = early?.gun === gun ? early.keys : undefined;
    early = undefined;
    return asked ?? client.keys(gun);
  };
  const keysToAsk = async (
    gun: string,
    role: string,
    requirements: readonly Requirement[],
  ): Promise<{ keys?: string[] }> => {
    if (opts.keys) return { keys: opts.keys };
    const offered = (await keysOffered(gun)).keys;
    try {
      return { keys: daemonKeysFor(gun, role, offered, requirements) };
    } catch (err) {
      if (role === 'root' && opts.pin !== undefined) return {};
      throw err;
    }
  };
  return {
    prepare(gun) {
      if (opts.keys) return;
      const keys = client.keys(gun);
      early = { gun, keys };
      // A failure is taken when the answer is used.
      return keys.then(
        () => undefined,
        () => undefined,
      );
    },
    async rootKeys(gun) {
      const names = opts.rootKey === undefined ? [] : [opts.rootKey].flat();
      if (names.length === 0) throw new NotaryHsmError('USAGE', 'name the root key (--root-key)');
      if (new Set(names).size !== names.length) {
        throw new NotaryHsmError('USAGE', 'name each root key once');
      }
      const out: TufKey[] = [];
      for (const key of names) {
        const res = await client.rootCertificate({ gun, key, ...pin });
        out.push(TufKey.fromJson(res.publicKey, '/publicKey'));
      }
      return out;
    },
    async targetsKey() {
      if (!opts.targetsKey)
        throw new NotaryHsmError('USAGE', 'name the targets key (--targets-key)');
      const [key] = await client.tufKeys([opts.targetsKey]);
      return key as TufKey;
    },
    async sign(gun, role, signed, requirements) {
      // The model's Go field set in canonical form, encoded once and made into bytes once:
      // the message the signatures cover, sent as it is (the daemon parses, checks and
      // re-encodes it) and the `signed` member of the file assembled below.
      const canonical = canonicalTextOf(signed);
      const message = Buffer.from(canonical, 'utf8');
      const body = {
        gun,
        signed: new JsonText(message),
        ...(await keysToAsk(gun, role, requirements)),
      };
      const pending =
        role === 'root'
          ? client.signRoot({ ...body, ...pin })
          : role === 'targets'
            ? client.signTargets(body)
            : client.signDelegation({ ...body, role });
      // The rest of the file is made while the daemon reads, checks and signs the request
      // (once the request is on its way: a turn of the event loop sends it).
      pending.catch(() => undefined); // its failure is taken below, not while waiting here
      await new Promise((resolve) => setImmediate(resolve));
      const parts = fileParts(canonical, message);
      const res = await pending;
      const signatures: Signature[] = res.signatures.map((s) => ({
        keyid: s.keyid,
        method: s.method,
        sig: Buffer.from(s.sig, 'base64'),
      }));
      const file = assemble(role, signed, signatures, requirements, parts);
      return res.leaseMs === undefined ? file : { ...file, leaseMs: res.leaseMs };
    },
  };
}
