/**
 * Keys born in a SoftHSM2 token sign a real Notary repository: the root certificate is
 * signed by the token's root key, root.json and targets.json by token keys, the server
 * accepts them, and the stock notary CLI (fresh trust directory) lists the targets.
 */
import { createHash } from 'node:crypto';
import { localSigning } from '../../../src/client/signing';
import { initRepository } from '../../../src/client/publish';
import { updateTargets } from '../../../src/client/targets-update';
import { FileMeta } from '../../../src/metadata/file-meta';
import { TufKey } from '../../../src/metadata/keys';
import { NotaryServerClient } from '../../../src/notary';
import { ModuleHost, Pkcs11Signer, TokenOwner, pinSource } from '../../../src/pkcs11';
import { notaryCli, parseNotaryList } from '../../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';
import { createSoftHsmToken, SOFTHSM_MODULE } from '../../helpers/softhsm';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/hsm/token-signed';

describe('a repository signed by token keys, read by the stock notary CLI', () => {
  let server: NotaryServer;
  let host: ModuleHost;
  let owner: TokenOwner;

  beforeAll(async () => {
    server = await startNotaryServer();
    const token = await createSoftHsmToken({
      label: 'repo',
      pin: '314159',
      soPin: '27182818',
      dir: await makeTempDir('repo-'),
    });
    host = new ModuleHost({ module: SOFTHSM_MODULE, env: { ...process.env, ...token.env } });
    owner = new TokenOwner({
      name: 'repo',
      host,
      selector: { label: 'repo' },
      pin: pinSource('env:P', { P: '314159' }),
    });
  });
  afterAll(async () => {
    await host?.close();
    await server?.stop();
  });

  it('publishes with a token-signed root certificate and lists with notary', async () => {
    await owner.generateKey('root', '01');
    await owner.generateKey('targets', '02');
    const rootSigner = await Pkcs11Signer.open(owner, { label: 'root' });
    const targetsSigner = await Pkcs11Signer.open(owner, { id: '02' });
    const client = new NotaryServerClient({ url: server.url });

    const repo = await initRepository({
      server: client,
      gun: GUN,
      signing: localSigning({ rootSigner, targetsSigner }),
    });
    const [rootKey] = repo.root.signed.roleKeys('root');
    const cert = rootKey!.certificate();
    expect(cert.subject).toBe(`CN=${GUN}`);
    expect(cert.verify(cert.publicKey)).toBe(true); // self-signature made by the token
    expect(rootKey!.canonicalId).toBe(TufKey.ecdsa(rootSigner.publicKeySpki).id);

    const content = Buffer.from('image manifest');
    const meta = FileMeta.sha256(createHash('sha256').update(content).digest(), content.length);
    await updateTargets({
      server: client,
      gun: GUN,
      signing: localSigning({ signers: [targetsSigner] }),
      changes: { add: new Map([['v1', meta]]) },
    });

    const cli = await notaryCli(server);
    const listed = parseNotaryList((await cli.run(['list', GUN])).stdout);
    expect(listed).toEqual([
      {
        name: 'v1',
        digest: meta.sha256Digest!.toString('hex'),
        size: content.length,
        role: 'targets',
      },
    ]);
  });
});
