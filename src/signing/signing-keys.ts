/**
 * Which configured keys sign a request, through which Signers, and under which key IDs.
 * Keys are seen through the Signer interface (src/signer/), whatever backend holds them.
 *
 * - A key signs only requests of its own role kind, for GUNs its patterns match and (for
 *   delegations) the roles it lists; each delegation key's own target patterns must allow
 *   every target.
 * - Targets and delegations are signed under the bare key's ID. A root is signed under
 *   each certificate of the key that the root lists, and only when each is one the daemon
 *   issued for exactly this GUN (policy/root-certificates.ts); keys the request did not
 *   name and the root lists no certificate of are left out.
 */
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import type { Config, ResolvedKey } from '../config/load';
import { TufKey } from '../metadata/keys';
import { Root } from '../metadata/root';
import type { Targets } from '../metadata/targets';
import {
  allTargetsMatch,
  anyGunMatches,
  matchingTargetPattern,
  quote,
  roleAllowed,
} from '../policy/patterns';
import { rootSignatureKeyIds } from '../policy/root-certificates';
import type { KeySource } from '../signer/key-source';
import type { Signer } from '../signer/signer';
import type { SignRequest } from './types';

/** The kind of key each signing endpoint signs with. */
export const SIGN_KIND = {
  'sign/root': 'root',
  'sign/targets': 'targets',
  'sign/delegation': 'delegation',
} as const;

/** A Signer and the key IDs its one signature is given under. */
export interface SigningKey {
  readonly signer: Signer;
  readonly keyIds: string[];
}

export class SigningKeys {
  private readonly config: Config;
  private readonly source: KeySource<ResolvedKey['ref']>;
  /** Bare (`ecdsa`) key ID per signer: a hash of canonical JSON, the same for every request. */
  private readonly bareKeyIds = new WeakMap<Signer, string>();

  constructor(deps: { config: Config; source: KeySource<ResolvedKey['ref']> }) {
    this.config = deps.config;
    this.source = deps.source;
  }

  /** throws: KEY_NOT_FOUND */
  key(name: string): ResolvedKey {
    const k = this.config.keys.find((x) => x.name === name);
    if (!k) throw new NotaryHsmError('KEY_NOT_FOUND', `no key named ${name}`);
    return k;
  }

  /**
   * Keys (configured) that may sign this request, after the client's own scopes.
   * throws: FORBIDDEN, KEY_NOT_FOUND
   */
  usable(names: readonly string[], req: SignRequest): ResolvedKey[] {
    const kind = SIGN_KIND[req.endpoint];
    const keys = names
      .map((n) => this.key(n))
      .filter((k) => k.role === kind && anyGunMatches(k.guns, req.gun))
      .filter(
        (k) => kind !== 'delegation' || (k.delegation && roleAllowed(k.delegation.roles, req.role)),
      );
    if (keys.length === 0) {
      throw new NotaryHsmError(
        'FORBIDDEN',
        `no configured ${kind} key may sign ${req.role} of ${req.gun}`,
        { details: { gun: req.gun, role: req.role } },
      );
    }
    return keys;
  }

  /** Each delegation key's own target patterns must allow every target. throws: TARGET_OUTSIDE_PATHS */
  checkPaths(keys: readonly ResolvedKey[], model: Targets): void {
    for (const k of keys) {
      const paths = k.delegation?.paths ?? [];
      if (allTargetsMatch(paths)) continue;
      for (const name of model.targetNames()) {
        if (!matchingTargetPattern(paths, name)) {
          throw new NotaryHsmError(
            'TARGET_OUTSIDE_PATHS',
            `key ${k.name} may not sign target ${quote(name)}`,
            { details: { key: k.name } },
          );
        }
      }
    }
  }

  /**
   * The signers of a request and the key IDs each signs under (see the file comment).
   * throws: KEY_NOT_FOUND, CERTIFICATE_INVALID, token errors
   */
  async signersFor(
    keys: readonly ResolvedKey[],
    req: SignRequest,
    model: Root | Targets,
    now: Date,
  ): Promise<SigningKey[]> {
    const signers = await Promise.all(
      keys.map((k) => this.source.signerFor(k.token, k.ref, req.pin)),
    );
    const out: SigningKey[] = [];
    for (const signer of signers) {
      try {
        out.push({ signer, keyIds: this.keyIdsFor(model, signer, req.gun, now) });
      } catch (err) {
        if (req.keys !== undefined || !isNotaryHsmError(err, 'KEY_NOT_FOUND')) throw err;
      }
    }
    if (out.length === 0) {
      throw new NotaryHsmError(
        'KEY_NOT_FOUND',
        `the root lists a certificate of none of the root keys this client may use for ${req.gun}`,
        { details: { gun: req.gun } },
      );
    }
    return out;
  }

  private keyIdsFor(model: Root | Targets, signer: Signer, gun: string, now: Date): string[] {
    if (!(model instanceof Root)) return [this.bareKeyId(signer)];
    return rootSignatureKeyIds(model, signer.publicKeySpki, {
      gun,
      now,
      maxDays: this.config.policy.max_expiry_days.root,
      clockSkewSeconds: this.config.policy.clock_skew_seconds,
    });
  }

  private bareKeyId(signer: Signer): string {
    let id = this.bareKeyIds.get(signer);
    if (id === undefined) {
      id = TufKey.ecdsa(signer.publicKeySpki).id;
      this.bareKeyIds.set(signer, id);
    }
    return id;
  }
}
