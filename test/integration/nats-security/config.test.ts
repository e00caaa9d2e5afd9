import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { NatsServer, natsServerBinary } from '@ratebus/testkit';
import { accountsConfig, confForServer, NATS_DIR, ROLE_ENV } from './roles.js';

const CONFS = ['single.conf', 'node-1.conf', 'node-2.conf', 'node-3.conf'];
const RUN_SH = `${NATS_DIR}run.sh`;
/** A bcrypt hash of "secret", as an operator would pass it: wrapped in double quotes. */
const QUOTED_BCRYPT = '"$2b$10$abcdefghijklmnopqrstuuqflPDzB6gcMhKa1rZqKiun2YGL5sa2u"';

/** Environment without any inherited RATEBUS_* variable, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RATEBUS_')) env[k] = v;
  return { ...env, NATS_SERVER_BIN: natsServerBinary(), ...extra };
}

/** `nats-server -t -c <file>`: parses the config (includes, variables) without opening ports. */
function testConfig(file: string, env: NodeJS.ProcessEnv) {
  return spawnSync(natsServerBinary(), ['-t', '-c', confForServer(file)], { env, encoding: 'utf8' });
}

describe('NATS security: shipped server configs', () => {
  it('every config is valid when the passwords are set (accounts.conf found by relative include)', () => {
    for (const file of CONFS) {
      const r = testConfig(file, envWith(ROLE_ENV));
      assert.equal(r.status, 0, `${file}: ${r.stderr}`);
    }
  });

  it('a node refuses to start when a password variable is missing', () => {
    const { RATEBUS_GATEWAY_PASSWORD: _, ...rest } = ROLE_ENV;
    const r = testConfig('node-1.conf', envWith(rest));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /RATEBUS_GATEWAY_PASSWORD/);
  });

  it('node-1..3 are one cluster: each names itself and routes to the two others by DNS name', () => {
    for (const i of [1, 2, 3]) {
      const text = readFileSync(`${NATS_DIR}node-${i}.conf`, 'utf8').replace(/#.*$/gm, '');
      assert.match(text, new RegExp(`server_name:\\s*nats-${i}\\b`));
      assert.match(text, /cluster\s*{[^}]*name:\s*ratebus/);
      const routes = [...text.matchAll(/nats-route:\/\/(nats-\d):6222/g)].map((m) => m[1]).sort();
      assert.deepEqual(
        routes,
        [1, 2, 3].filter((j) => j !== i).map((j) => `nats-${j}`),
      );
      assert.match(text, /^include accounts\.conf$/m);
      // acknowledged writes survive a power loss of every node (services/nats/README.md "Durability")
      assert.match(text, /jetstream\s*{[^}]*sync_interval:\s*always/);
    }
  });

  describe('run.sh (password check before nats-server)', () => {
    it('refuses empty and config-unsafe passwords, naming each variable', () => {
      const r = spawnSync('sh', [RUN_SH, '-t', '-c', `${NATS_DIR}single.conf`], {
        env: envWith({
          ...ROLE_ENV,
          RATEBUS_POD_PASSWORD: '',
          RATEBUS_GATEWAY_PASSWORD: 'short',
          RATEBUS_INSPECTOR_PASSWORD: 'has,a-comma-in-it-0123',
        }),
        encoding: 'utf8',
      });
      assert.equal(r.status, 78);
      assert.match(r.stderr, /RATEBUS_POD_PASSWORD is not set or empty/);
      assert.match(r.stderr, /RATEBUS_GATEWAY_PASSWORD must be/);
      assert.match(r.stderr, /RATEBUS_INSPECTOR_PASSWORD must be/);
      assert.doesNotMatch(r.stderr, /RATEBUS_FETCHER_PASSWORD/);
    });

    it('accepts plain and quoted bcrypt passwords and hands over to nats-server', () => {
      const r = spawnSync('sh', [RUN_SH, '-t', '-c', `${NATS_DIR}single.conf`], {
        env: envWith({ ...ROLE_ENV, RATEBUS_INSPECTOR_PASSWORD: QUOTED_BCRYPT }),
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /single\.conf is valid/);
    });
  });

  describe('environment substitution in nats-server 2.9 (why run.sh checks)', () => {
    it('reads passwords from the environment, bcrypt hashes only when quoted', async () => {
      const ns = await NatsServer.start({
        extraConfig: accountsConfig(),
        env: { ...ROLE_ENV, RATEBUS_INSPECTOR_PASSWORD: QUOTED_BCRYPT },
      });
      try {
        const opts = { servers: ns.url, maxReconnectAttempts: 0 };
        const nc = await connect({ ...opts, user: 'inspector', pass: 'secret' });
        await nc.close();
        await assert.rejects(connect({ ...opts, user: 'inspector', pass: QUOTED_BCRYPT.slice(1, -1) }));
      } finally {
        await ns.stop();
      }
    });

    it('turns an empty variable into an empty password that lets anyone in', async () => {
      const ns = await NatsServer.start({
        extraConfig: accountsConfig(),
        env: { ...ROLE_ENV, RATEBUS_POD_PASSWORD: '' },
      });
      try {
        const nc = await connect({ servers: ns.url, user: 'pod', pass: '', maxReconnectAttempts: 0 });
        await nc.close();
      } finally {
        await ns.stop();
      }
    });
  });
});
