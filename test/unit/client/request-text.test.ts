/**
 * A sign request carries the client's canonical document as it is: the body's JSON text
 * has the other members as JSON.stringify writes them and the document spliced in, and
 * parses back to the same request.
 */
import { JsonText, requestParts } from '../../../src/client/daemon-client';

/** The body's text: its parts joined, as they are sent. */
const requestText = (body: Record<string, unknown>): string =>
  Buffer.concat(requestParts(body)).toString('utf8');

describe('requestParts', () => {
  it('splices JsonText members in verbatim and parses back to the request', () => {
    const signed = '{"_type":"Targets","targets":{"a<b":{"length":1}},"version":2}';
    const text = requestText({ gun: 'g"1', keys: ['k'], signed: new JsonText(signed) });
    expect(text).toBe(`{"gun":"g\\"1","keys":["k"],"signed":${signed}}`);
    expect(JSON.parse(text)).toEqual({
      gun: 'g"1',
      keys: ['k'],
      signed: JSON.parse(signed) as unknown,
    });
  });

  it('writes a body of JsonText alone, and plain bodies as JSON.stringify does', () => {
    expect(requestText({ signed: new JsonText('{}') })).toBe('{"signed":{}}');
    expect(requestText({ gun: 'g', n: 1 })).toBe('{"gun":"g","n":1}');
  });
});
