import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { followJsonLogLines, type LogLine } from '../src/index.js';

describe('followJsonLogLines', () => {
  it('hands over each JSON line once it is complete, across chunks, skipping other lines', async () => {
    const stream = new PassThrough();
    const seen: LogLine[] = [];
    followJsonLogLines(stream, (l) => seen.push(l));
    const write = async (text: string) => {
      stream.write(text);
      await new Promise((r) => setImmediate(r));
    };
    await write('{"event":"elected","te');
    assert.deepEqual(seen, [], 'a partial line waits for its end');
    await write('rm":3}\nplain text\n{"msg":"a"}\n{"msg":');
    assert.deepEqual(seen, [{ event: 'elected', term: 3 }, { msg: 'a' }]);
    await write('"b"}\n');
    assert.deepEqual(seen.at(-1), { msg: 'b' });
  });
});
