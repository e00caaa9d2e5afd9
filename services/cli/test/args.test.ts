import assert from 'node:assert/strict';
import {
  DEFAULT_TIMEOUT_MS,
  parseCommandLine,
  parseDuration,
  readCommandLine,
  UsageError,
} from '../src/index.js';

const P = 'AGILE-24-10-01';
const T = 'E-1R-AGILE-24-10-01-C';

describe('parseCommandLine', () => {
  it('parses each command with its tariff and flags', () => {
    const get = parseCommandLine(['get', P, T, '--json', '-s', 'nats://a:4222', '--timeout', '500ms']);
    assert.equal(get.kind, 'run');
    if (get.kind !== 'run') return;
    assert.equal(get.command, 'get');
    assert.deepEqual(get.ref, { product: P, tariff: T });
    assert.equal(get.json, true);
    assert.equal(get.timeoutMs, 500);
    assert.deepEqual(get.connection, { server: 'nats://a:4222' });

    const refresh = parseCommandLine(['refresh', P, T, '--force']);
    assert.ok(refresh.kind === 'run' && refresh.force && refresh.timeoutMs === DEFAULT_TIMEOUT_MS);
    const watchAll = parseCommandLine(['watch']);
    assert.ok(watchAll.kind === 'run' && watchAll.ref === null);
    const status = parseCommandLine(['status', '--inbox-prefix', '_INBOX_ops']);
    assert.ok(status.kind === 'run' && status.connection.inboxPrefix === '_INBOX_ops');
  });

  it('answers help and version before anything else is checked', () => {
    assert.deepEqual(parseCommandLine(['--help']), { kind: 'help' });
    assert.deepEqual(parseCommandLine(['help']), { kind: 'help' });
    assert.deepEqual(parseCommandLine(['get', 'bad', '-h']), { kind: 'help' });
    assert.deepEqual(parseCommandLine(['--version']), { kind: 'version' });
  });

  it('lists every problem at once', () => {
    const r = readCommandLine(['get', 'agile', 'x', '--force', '--timeout', 'soon']);
    assert.equal(r.invocation, null);
    assert.equal(r.problems.length, 4, r.problems.join('\n'));
    assert.match(r.problems[0] ?? '', /invalid product code "agile"/);
    assert.match(r.problems[1] ?? '', /invalid tariff code "x"/);
    assert.match(r.problems[2] ?? '', /--force applies to refresh only/);
    assert.match(r.problems[3] ?? '', /--timeout/);
  });

  it('rejects unknown commands and flags, wrong arity and a tariff of another product', () => {
    const cases: string[][] = [
      [],
      ['frobnicate'],
      ['status', '--bogus'],
      ['status', P],
      ['get', P],
      ['watch', P],
      ['refresh', P, 'E-1R-GO-22-B'],
    ];
    for (const argv of cases) {
      assert.throws(
        () => parseCommandLine(argv),
        (e) => e instanceof UsageError && e.exitCode === 2,
        argv.join(' '),
      );
    }
  });
});

describe('parseDuration', () => {
  it('reads ms, s, m and bare seconds', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('3s'), 3_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('7'), 7_000);
    assert.equal(parseDuration('1h'), null);
    assert.equal(parseDuration('-1s'), null);
  });
});
