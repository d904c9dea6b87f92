/**
 * The module host's dispatcher: owns one PKCS#11 module (one Pkcs11Port) and the tokens
 * attached to it, and answers HostRequests. It runs inside the child process (or worker
 * thread) — never on the daemon's main event loop.
 */
import * as pkcs11 from 'pkcs11js';
import { NotaryHsmError } from '../../errors';
import { Pkcs11jsPort } from '../pkcs11js-port';
import type { Pkcs11Port } from '../port';
import type { HostRequest, SlotReport } from './protocol';
import { pinStateOf, TokenRuntime } from './token-runtime';

/** A view of `bytes` as a Buffer (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class ModuleRuntime {
  private port?: Pkcs11Port;
  private readonly tokens = new Map<string, TokenRuntime>();

  constructor(
    private readonly makePort: (module: string) => Pkcs11Port = (m) => new Pkcs11jsPort(m),
  ) {}

  private module?: string;

  /** The initialised port; a failed C_Initialize is retried by the next request, and its own error reported. */
  private get p(): Pkcs11Port {
    if (this.port) return this.port;
    if (!this.module)
      throw new NotaryHsmError('MODULE_ERROR', 'the module host has not been initialised');
    return this.initialise(this.module);
  }

  private initialise(module: string): Pkcs11Port {
    const port = this.makePort(module);
    port.initialize();
    this.port = port;
    return port;
  }

  private token(name: string): TokenRuntime {
    const t = this.tokens.get(name);
    if (!t) throw new NotaryHsmError('TOKEN_NOT_FOUND', `no token named ${name} is attached`);
    return t;
  }

  /** Every initialised token the module sees (SoftHSM2 also lists one empty slot). */
  slots(): SlotReport[] {
    const infos = this.p.slots(true).map((slot) => this.p.tokenInfo(slot));
    return infos
      .filter((t) => (t.flags & pkcs11.CKF_TOKEN_INITIALIZED) !== 0)
      .map((t) => {
        return {
          label: t.label,
          serial: t.serial,
          manufacturer: t.manufacturer,
          model: t.model,
          pinState: pinStateOf(t.flags),
        };
      });
  }

  /**
   * Answers one request: a value at once for what completes synchronously (a signature on a
   * token that signs synchronously), else a promise. Throws (or rejects) with its error.
   */
  handle(req: HostRequest): unknown {
    switch (req.op) {
      case 'init': {
        this.module = req.module;
        if (!this.port) this.initialise(req.module);
        return null;
      }
      case 'slots':
        return this.slots();
      case 'attach':
        if (!this.tokens.has(req.token)) {
          this.tokens.set(
            req.token,
            new TokenRuntime(this.p, req.token, req.selector, req.sessions, req.syncSign === true),
          );
        }
        return this.token(req.token).status();
      case 'status':
        return this.token(req.token).status();
      case 'login':
        return this.token(req.token).login(req.pin);
      case 'findKey':
        return this.token(req.token).findKey(req.key);
      case 'listKeys':
        return this.token(req.token).listKeys();
      case 'generateKey':
        return this.token(req.token).generateKey(req.label, req.id);
      case 'sign':
        return this.token(req.token).sign(req.key, asBuffer(req.digest), req.pin);
      case 'readData':
        return this.token(req.token).readData(req.object);
      case 'writeData':
        return this.token(req.token).writeData(req.object, req.value);
      case 'shutdown':
        return this.shutdown();
    }
  }

  /** Logs out, closes every session and finalises the module. */
  shutdown(): null {
    for (const t of this.tokens.values()) t.close();
    this.tokens.clear();
    if (this.port) {
      try {
        this.port.finalize();
      } catch {
        // finalising is best effort at exit
      }
      this.port = undefined;
    }
    return null;
  }
}
