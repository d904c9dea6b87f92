/**
 * Child process of crash.test.ts: opens the store in the state directory given as its
 * argument and reserves versions in a tight loop for eight GUN/role pairs, each version
 * requested twice at once (exactly one request may win), with refusals appended in
 * between. After each reservation resolves it prints `ack <gun> <role> <version>` (stdout
 * is a pipe, written synchronously), so the parent knows which versions were acknowledged
 * as durable when it kills this process. It runs until it is killed; any broken promise
 * exits with status 3. Transpiled to JavaScript by the test and run with STORE_MODULE
 * naming the built store (dist/src/store/index.js).
 */
import type * as StoreModule from '../../../src/store';

/** Refusal reasons this long (CRASH_REASON_CHARS, max 4096) make writes large enough for a
 * kill to cut one short now and then. */
const REASON = 'x'.repeat(Math.min(Number(process.env.CRASH_REASON_CHARS ?? 0), 4096));

const PAIRS = Array.from({ length: 8 }, (_, k) => ({
  gun: `registry.example.com/crash/app${k % 3}`,
  role: k % 4 === 0 ? 'targets' : `targets/r${k}`,
}));

function die(message: string): never {
  process.stderr.write(`crash-driver: ${message}\n`);
  process.exit(3);
}

async function run(): Promise<void> {
  const dir = process.argv[2];
  const modulePath = process.env.STORE_MODULE;
  if (!dir || !modulePath) die('usage: STORE_MODULE=… crash-driver <state dir>');
  const { openStore } = (await import(modulePath)) as typeof StoreModule;
  const store = await openStore(dir);
  process.stdout.write(`ready ${store.audit.head().seq}\n`);
  await Promise.all(
    PAIRS.map(async ({ gun, role }, k) => {
      let version = store.state.lastVersion(gun, role) ?? 0;
      for (;;) {
        version++;
        const input = {
          client: `ci-${k}`,
          endpoint: 'sign/delegation',
          gun,
          role,
          version,
          payloadDigest: 'ab'.repeat(32),
          keyIds: ['cd'.repeat(32)],
          outcome: 'signed' as const,
        };
        const results = await Promise.allSettled([
          store.state.reserve(input),
          store.state.reserve(input),
          store.audit.append({
            client: `ci-${k}`,
            endpoint: 'sign/delegation',
            gun,
            role,
            version,
            outcome: 'refused',
            code: 'FORBIDDEN',
            reason: REASON,
          }),
        ]);
        const won = results.slice(0, 2).filter((r) => r.status === 'fulfilled').length;
        if (won !== 1) die(`${won} of two requests for ${gun} ${role} v${version} won`);
        if (results[2]?.status !== 'fulfilled') die('an append failed');
        process.stdout.write(`ack ${gun} ${role} ${version}\n`);
      }
    }),
  );
}

run().catch((err: unknown) => die(String(err)));
