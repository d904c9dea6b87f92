/**
 * Verification of token signatures in batches, off the main event loop. Every signature
 * a token makes is checked against its key before it is used (Pkcs11Signer); the
 * signatures that come back from a module host together (one reply message carries ~10)
 * are checked together: one message to a long-lived worker thread and one answer, a byte
 * a signature, instead of a libuv thread-pool job, a wake-up and a callback for each.
 *
 * One batch is with the thread at a time (what comes meanwhile goes next, as one), and a
 * lone signature is verified on the calling thread. If the thread is not built (sources
 * under test) or dies, the signatures it was given are verified here too: nothing is ever
 * answered unverified.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { builtFile } from './built-file';

/** Batches this small are verified on the calling thread. */
const INLINE_MAX = 1;

/** A public key the verifier knows, by its number (sent to the thread once). */
export interface VerifyKey {
  readonly number: number;
  readonly spki: Buffer;
  readonly object: KeyObject;
}

interface Item {
  readonly key: VerifyKey;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  readonly resolve: (ok: boolean) => void;
}

/**
 * Whether `signature` (raw r‖s) is `key`'s over SHA-256 of `message`: the check of this
 * thread and of the verification thread alike.
 */
export function verifyP256(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    // A signature of the wrong length, say: one that does not verify.
    return false;
  }
}

/** Checks one signature here, on the calling thread. */
export function verifyHere(key: VerifyKey, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyP256(key.object, message, signature);
}

export interface BatchVerifierOptions {
  /** The thread's compiled entry (default: verify-worker.js as built); null: no thread. */
  entry?: string | null;
}

export class BatchVerifier {
  private worker?: Worker;
  private entry: string | undefined;
  private entryLooked: boolean;
  /** Batches sent to a thread so far (for tests and diagnostics). */
  batchesSent = 0;
  private readonly keys: VerifyKey[] = [];
  /** Keys the current thread has been sent. */
  private known = new Set<number>();
  private waiting: Item[] = [];
  /** Batches sent to the thread, answered in the order sent. */
  private sent: Item[][] = [];
  private scheduled = false;

  constructor(opts: BatchVerifierOptions = {}) {
    this.entryLooked = opts.entry !== undefined;
    this.entry = opts.entry ?? undefined;
  }

  /** The key for `spki` (DER SubjectPublicKeyInfo of a P-256 key). */
  key(spki: Uint8Array): VerifyKey {
    const der = Buffer.from(spki);
    const found = this.keys.find((k) => k.spki.equals(der));
    if (found) return found;
    const key: VerifyKey = {
      number: this.keys.length + 1,
      spki: der,
      object: createPublicKey({ key: der, format: 'der', type: 'spki' }),
    };
    this.keys.push(key);
    return key;
  }

  /** Whether `signature` (raw r‖s) is `key`'s over SHA-256 of `message`. */
  verify(key: VerifyKey, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return new Promise((resolvePromise) => {
      this.waiting.push({ key, message, signature, resolve: resolvePromise });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the current turn's callbacks: every signature of one host reply is here by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    // One batch at a time: what arrives meanwhile waits for the answer and goes as one, so
    // the thread is woken once per batch however the signatures trickle in.
    if (this.sent.length > 0) return;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    // A lone signature (a quiet moment) is cheaper verified here than a thread woken for it.
    const worker = batch.length > INLINE_MAX ? this.thread() : undefined;
    if (!worker) {
      for (const item of batch) item.resolve(verifyHere(item.key, item.message, item.signature));
      return;
    }
    const packed = this.pack(batch);
    this.sent.push(batch);
    this.batchesSent++;
    if (this.sent.length === 1) worker.ref();
    worker.postMessage(packed, [packed.buffer as ArrayBuffer]);
  }

  private pack(batch: Item[]): Uint8Array {
    const added = new Set<VerifyKey>();
    for (const item of batch) if (!this.known.has(item.key.number)) added.add(item.key);
    let size = 8;
    for (const k of added) size += 8 + k.spki.length;
    for (const item of batch) size += 12 + item.message.length + item.signature.length;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    let at = 0;
    const u32 = (v: number): void => {
      view.setUint32(at, v, true);
      at += 4;
    };
    const bytes = (b: Uint8Array): void => {
      out.set(b, at);
      at += b.length;
    };
    u32(added.size);
    for (const k of added) {
      u32(k.number);
      u32(k.spki.length);
      bytes(k.spki);
      this.known.add(k.number);
    }
    u32(batch.length);
    for (const item of batch) {
      u32(item.key.number);
      u32(item.message.length);
      u32(item.signature.length);
      bytes(item.message);
      bytes(item.signature);
    }
    return out;
  }

  private thread(): Worker | undefined {
    if (this.worker) return this.worker;
    if (!this.entryLooked) {
      this.entry = builtFile(__dirname, 'verify-worker.js');
      this.entryLooked = true;
    }
    if (this.entry === undefined) return undefined;
    const worker = new Worker(this.entry);
    worker.unref();
    worker.on('message', (answer: Uint8Array) => {
      const batch = this.sent.shift();
      if (this.sent.length === 0) worker.unref();
      batch?.forEach((item, i) => item.resolve(answer[i] === 1));
      if (this.waiting.length > 0 && !this.scheduled) this.flush();
    });
    // An error is followed by exit: what the thread had not answered is verified here.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.known = new Set();
      const lost = this.sent;
      this.sent = [];
      for (const batch of lost) {
        for (const item of batch) item.resolve(verifyHere(item.key, item.message, item.signature));
      }
      if (this.waiting.length > 0 && !this.scheduled) this.flush();
    });
    this.worker = worker;
    return worker;
  }

  /** Stops the thread; what it had not answered is verified here. The next batch starts a new one. */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

let shared: BatchVerifier | undefined;

/** The process's verifier (one thread for every token's signatures). */
export function batchVerifier(): BatchVerifier {
  shared ??= new BatchVerifier();
  return shared;
}
