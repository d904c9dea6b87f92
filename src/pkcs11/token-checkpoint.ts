/**
 * The audit checkpoint (src/store/checkpoint.ts) kept in a token: one private data object
 * (CKO_DATA, CKA_TOKEN, CKA_PRIVATE) per state directory, found by its CKA_APPLICATION
 * (`notary-hsmd audit checkpoint ` and the configured label), the checkpoint in its
 * CKA_LABEL (see DataRef), written with one C_SetAttributeValue per batch of records.
 */
import {
  decodeCheckpoint,
  encodeCheckpoint,
  type Checkpoint,
  type CheckpointStore,
} from '../store/checkpoint';
import type { DataRef } from './host/protocol';
import type { TokenRegistry } from './registry';

/** The start of the checkpoint object's CKA_APPLICATION. */
export const CHECKPOINT_APPLICATION = 'notary-hsmd audit checkpoint';

export class TokenCheckpointStore implements CheckpointStore {
  readonly where: string;
  private readonly object: DataRef;

  constructor(
    private readonly registry: Pick<TokenRegistry, 'readData' | 'writeData'>,
    private readonly token: string,
    label: string,
  ) {
    this.object = { application: `${CHECKPOINT_APPLICATION} ${label}` };
    this.where = `token ${token} (data object ${JSON.stringify(label)})`;
  }

  async read(): Promise<Checkpoint | undefined> {
    const text = await this.registry.readData(this.token, this.object);
    return text === null ? undefined : decodeCheckpoint(text, this.where);
  }

  write(checkpoint: Checkpoint): Promise<void> {
    return this.registry.writeData(this.token, this.object, encodeCheckpoint(checkpoint));
  }
}
