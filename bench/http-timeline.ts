/**
 * Preloaded into a notary-hsm process by `bench/cli --timeline` (`node -r`): notes, through
 * Node's HTTP diagnostics channels, when each HTTP request of the process is sent, answered
 * and read to its end, in ms since the process started, and appends them to the file
 * NOTARY_HSM_BENCH_TIMELINE names when the process exits. It changes nothing the process
 * does.
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';

const file = process.env.NOTARY_HSM_BENCH_TIMELINE;
if (file) {
  const lines: string[] = [];
  const note = (what: string): void => {
    lines.push(`${performance.now().toFixed(1).padStart(7)}  ${what}`);
  };
  // The repository's name and the files' checksums are noise here: leave them out.
  const describe = (req: ClientRequest): string =>
    `${req.method} ${
      req.path
        .replace(/^\/v2\/.*\/_trust\/tuf\//, '…/tuf/')
        .replace(/\.[0-9a-f]{64}\.json$/, '.<sha256>.json')
        .split('?')[0]
    }`;
  subscribe('http.client.request.start', (message) => {
    note(`sent      ${describe((message as { request: ClientRequest }).request)}`);
  });
  subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const what = describe(request);
    note(`answered  ${what}`);
    response.once('end', () => note(`read      ${what}`));
  });
  process.on('exit', () => {
    note('exit');
    appendFileSync(
      file,
      `notary-hsm ${process.argv.slice(2, 3).join(' ')}\n${lines.join('\n')}\n\n`,
    );
  });
}
