/**
 * A child process that drives one pkcs11js instance for test/integration/fault-shim.test.ts.
 * The test compiles it (buildFaultShimDriver in test/helpers/fault-shim.ts) and runs it with
 * plain node; it is not loaded by jest.
 *
 * The module to load is argv[2]; SOFTHSM2_CONF and FAULT_PKCS11_* come from the environment
 * (they are read by the modules this process loads). Requests arrive on stdin as JSON lines
 * `{"id":1,"op":"open","args":{...}}`; each answer is one JSON line on stdout, either
 * `{"id":1,"ok":true,"value":...}` or `{"id":1,"ok":false,"code":<CKR_*>,"error":"CKR_..."}`.
 * Requests are served concurrently, so an asynchronous sign can be pending while other calls
 * are answered. Handles and byte strings travel as hex. PINs are used, never echoed or logged.
 */
import { createInterface } from 'node:readline';
import * as pkcs11js from 'pkcs11js';

type Args = Record<string, unknown>;

const modulePath = process.argv[2] ?? '';
const p11 = new pkcs11js.PKCS11();

const hex = (b: Buffer): string => b.toString('hex');

function str(args: Args, name: string): string {
  const v = args[name];
  if (typeof v !== 'string') throw new TypeError(`argument ${name} must be a string`);
  return v;
}

const bytes = (args: Args, name: string): Buffer => Buffer.from(str(args, name), 'hex');

/** Finds the first object of `cls` with CKA_LABEL `label`. */
function findOne(session: Buffer, cls: number, label: string): Buffer | undefined {
  p11.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: cls },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  try {
    return p11.C_FindObjects(session, 1)[0];
  } finally {
    p11.C_FindObjectsFinal(session);
  }
}

/** CKM_ECDSA over `digest`, synchronously or with C_SignAsync (the libuv threadpool). */
async function sign(args: Args): Promise<{ signature: string; ms: number; ticks: number }> {
  const session = bytes(args, 'session');
  p11.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, bytes(args, 'key'));
  // how often a 10 ms timer fires meanwhile: proof that the event loop is free
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const started = performance.now();
  try {
    const out = Buffer.alloc(132);
    const digest = bytes(args, 'digest');
    const signature =
      args.async === true
        ? await p11.C_SignAsync(session, digest, out)
        : p11.C_Sign(session, digest, out);
    return { signature: hex(signature), ms: performance.now() - started, ticks };
  } finally {
    clearInterval(timer);
  }
}

const ops: Record<string, (args: Args) => unknown> = {
  load: () => p11.load(modulePath),
  init: () => p11.C_Initialize(),
  finalize: () => p11.C_Finalize(),
  slots: (a) => p11.C_GetSlotList(a.present === true).map(hex),
  slotInfo: (a) => ({ flags: p11.C_GetSlotInfo(bytes(a, 'slot')).flags }),
  tokenInfo: (a) => {
    const info = p11.C_GetTokenInfo(bytes(a, 'slot'));
    return { flags: info.flags, label: info.label.trim() };
  },
  open: (a) =>
    hex(p11.C_OpenSession(bytes(a, 'slot'), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION)),
  close: (a) => p11.C_CloseSession(bytes(a, 'session')),
  login: (a) => p11.C_Login(bytes(a, 'session'), pkcs11js.CKU_USER, str(a, 'pin')),
  logout: (a) => p11.C_Logout(bytes(a, 'session')),
  /** An EC P-256 key pair on the token, labelled (and with CKA_ID) `label`. */
  generateKey: (a) => {
    const label = str(a, 'label');
    const id = Buffer.from(label, 'utf8');
    const prime256v1 = Buffer.from('06082a8648ce3d030107', 'hex');
    const keys = p11.C_GenerateKeyPair(
      bytes(a, 'session'),
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_VERIFY, value: true },
        { type: pkcs11js.CKA_EC_PARAMS, value: prime256v1 },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_SIGN, value: true },
      ],
    );
    return hex(keys.privateKey);
  },
  /** The private key's handle and the public key's CKA_EC_POINT (DER OCTET STRING). */
  findKey: (a) => {
    const session = bytes(a, 'session');
    const label = str(a, 'label');
    const priv = findOne(session, pkcs11js.CKO_PRIVATE_KEY, label);
    const pub = findOne(session, pkcs11js.CKO_PUBLIC_KEY, label);
    if (!priv || !pub) throw new Error(`no key pair labelled ${label}`);
    const [point] = p11.C_GetAttributeValue(session, pub, [{ type: pkcs11js.CKA_EC_POINT }]);
    if (!Buffer.isBuffer(point?.value)) throw new Error('no CKA_EC_POINT');
    return { key: hex(priv), point: hex(point.value) };
  },
  sign,
};

function reply(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function serve(line: string): Promise<void> {
  let id: unknown = null;
  try {
    const request = JSON.parse(line) as { id?: unknown; op?: unknown; args?: Args };
    id = request.id;
    const op = typeof request.op === 'string' ? ops[request.op] : undefined;
    if (!op) throw new Error(`unknown op ${String(request.op)}`);
    const value: unknown = await op(request.args ?? {});
    reply({ id, ok: true, value: value ?? null });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const error = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    reply({ id, ok: false, code: typeof code === 'number' ? code : -1, error });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => void serve(line));
process.stdin.on('end', () => process.exit(0));
