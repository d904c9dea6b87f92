/**
 * The gRPC load side of bench/peer.ts, in a process of its own (forked by the bench): a
 * @grpc/grpc-js client of notary-signer over mutual TLS with the bench's client
 * certificate, from bench/notary-signer.proto. Tasks arrive over IPC and each is answered
 * with its result: `key` creates an ECDSA key through KeyManagement.CreateKey; `sign`
 * keeps `clients` Signer.Sign calls in flight (closed loop: each client sends its next
 * request when the previous answer arrives), like bench/daemon-load.ts does over HTTP.
 * What is signed is what a Notary server sends its signer: the canonical bytes of a
 * `signed` object, here the same kind of Targets as bench/daemon-load.ts's, made anew for
 * every request.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { summarize, type LatencySummary } from './latency';
import { canonicalBytes } from '../src/metadata/canonical';
import { FileMeta } from '../src/metadata/file-meta';
import { Targets } from '../src/metadata/targets';
import { GoTime } from '../src/metadata/time';

/** bench/notary-signer.proto, from the project root (this file runs from dist/bench/bench/). */
const PROTO = join(__dirname, '..', '..', '..', 'bench', 'notary-signer.proto');

export interface PeerConnect {
  readonly kind: 'connect';
  readonly addr: string;
  readonly caCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface PeerKeyTask {
  readonly kind: 'key';
  readonly gun: string;
  readonly role: string;
}

export interface PeerSignTask {
  readonly kind: 'sign';
  readonly keyId: string;
  readonly clients: number;
  readonly gunPrefix: string;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

export interface PeerKey {
  readonly keyId: string;
  readonly algorithm: string;
  readonly publicKeyBytes: number;
}

export interface PeerSignResult {
  readonly signed: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Every call of the task: `OK`, or the gRPC status name. */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly latency: LatencySummary;
  /** CPU of this process during the measured window, % of one core. */
  readonly loadCpu: number;
}

export type PeerTask = PeerConnect | PeerKeyTask | PeerSignTask;
export type PeerReply =
  | { readonly ok: true; readonly result: PeerKey | PeerSignResult | { connected: true } }
  | { readonly ok: false; readonly error: string };

interface KeyIdMsg {
  ID?: string;
}
interface SignatureMsg {
  keyInfo?: { keyID?: KeyIdMsg; algorithm?: { algorithm?: string } };
  algorithm?: { algorithm?: string };
  content?: Buffer;
}
interface PublicKeyMsg {
  keyInfo?: { keyID?: KeyIdMsg; algorithm?: { algorithm?: string } };
  publicKey?: Buffer;
}
type Unary<Req, Res> = (
  req: Req,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;
interface SignerClient extends grpc.Client {
  Sign: Unary<{ keyID: KeyIdMsg; content: Buffer }, SignatureMsg>;
}
interface KeyClient extends grpc.Client {
  CreateKey: Unary<{ algorithm: string; gun: string; role: string }, PublicKeyMsg>;
}

let signer: SignerClient | undefined;
let keys: KeyClient | undefined;

function connectTo(task: PeerConnect): Promise<void> {
  const def = loadSync(PROTO, { keepCase: true, defaults: false });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    proto: { Signer: grpc.ServiceClientConstructor; KeyManagement: grpc.ServiceClientConstructor };
  };
  const creds = grpc.credentials.createSsl(
    readFileSync(task.caCert),
    readFileSync(task.clientKey),
    readFileSync(task.clientCert),
  );
  // the server certificate names 127.0.0.1 and localhost; TLS sends a host name, not an IP
  const channelOpts = { 'grpc.ssl_target_name_override': 'localhost' };
  signer = new pkg.proto.Signer(task.addr, creds, channelOpts) as unknown as SignerClient;
  keys = new pkg.proto.KeyManagement(task.addr, creds, channelOpts) as unknown as KeyClient;
  return new Promise((res, rej) => {
    signer?.waitForReady(Date.now() + 10_000, (err) => (err ? rej(err) : res()));
  });
}

function unary<Req, Res>(fn: Unary<Req, Res>, self: grpc.Client, req: Req): Promise<Res> {
  return new Promise((res, rej) => {
    fn.call(self, req, { deadline: Date.now() + 30_000 }, (err, out) => {
      if (err) rej(err);
      else if (out === undefined) rej(new Error('empty answer'));
      else res(out);
    });
  });
}

async function createKey(task: PeerKeyTask): Promise<PeerKey> {
  if (!keys) throw new Error('not connected');
  const pub = await unary(keys.CreateKey, keys, {
    algorithm: 'ecdsa',
    gun: task.gun,
    role: task.role,
  });
  const keyId = pub.keyInfo?.keyID?.ID ?? '';
  if (keyId === '') throw new Error('CreateKey answered without a key ID');
  return {
    keyId,
    algorithm: pub.keyInfo?.algorithm?.algorithm ?? '',
    publicKeyBytes: pub.publicKey?.length ?? 0,
  };
}

const versions = new Map<string, number>();
const expires = GoTime.daysFromNow(30);

/** The canonical bytes of the next Targets of `gun` (as bench/daemon-load.ts signs them). */
function content(gun: string): Buffer {
  const version = (versions.get(gun) ?? 0) + 1;
  versions.set(gun, version);
  const name = `v${version}`;
  const digest = createHash('sha256').update(`${gun}:${name}`).digest();
  const signed = new Targets({
    expires,
    version,
    targets: new Map([[name, FileMeta.sha256(digest, 1024 + version)]]),
  }).toJson();
  return canonicalBytes(signed);
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function runSign(task: PeerSignTask): Promise<PeerSignResult> {
  const client = signer;
  if (!client) throw new Error('not connected');
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  const start = performance.now();
  const from = start + task.warmupSeconds * 1000;
  const until = from + task.seconds * 1000;
  let signed = 0;
  let cpuFrom: number | undefined;
  let cpuAt: number | undefined;
  const cpuMark = setTimeout(() => {
    cpuFrom = cpuMs();
    cpuAt = performance.now();
  }, from - start);
  const keyID = { ID: task.keyId };
  const one = (i: number): Promise<string> =>
    new Promise((res) => {
      const req = { keyID, content: content(`${task.gunPrefix}${i}`) };
      client.Sign(req, { deadline: Date.now() + 30_000 }, (err, sig) => {
        if (err) res(grpc.status[err.code] ?? String(err.code));
        // a P-256 signature, raw r‖s: 64 bytes
        else res(sig?.content?.length === 64 ? 'OK' : 'OK NO_SIGNATURE');
      });
    });
  const loop = async (i: number): Promise<void> => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const outcome = await one(i);
      const t1 = performance.now();
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome === 'OK' && t1 >= from && t1 <= until) {
        signed++;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: task.clients }, (_, i) => loop(i)));
  clearTimeout(cpuMark);
  const end = performance.now();
  const cpu =
    cpuFrom === undefined || cpuAt === undefined
      ? NaN
      : ((cpuMs() - cpuFrom) / (end - cpuAt)) * 100;
  const errors = Object.entries(outcomes)
    .filter(([k]) => k !== 'OK')
    .reduce((n, [, v]) => n + v, 0);
  return {
    signed,
    seconds: task.seconds,
    perSecond: signed / task.seconds,
    outcomes,
    errors,
    latency: summarize(latencies),
    loadCpu: Math.round(cpu * 10) / 10,
  };
}

async function run(task: PeerTask): Promise<PeerKey | PeerSignResult | { connected: true }> {
  switch (task.kind) {
    case 'connect':
      await connectTo(task);
      return { connected: true };
    case 'key':
      return createKey(task);
    case 'sign':
      return runSign(task);
  }
}

if (process.send) {
  process.on('message', (task: PeerTask) => {
    run(task).then(
      (result) => process.send?.({ ok: true, result } satisfies PeerReply),
      (err: unknown) =>
        process.send?.({
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        } satisfies PeerReply),
    );
  });
  process.on('disconnect', () => {
    signer?.close();
    keys?.close();
    process.exit(0);
  });
}
