import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ManagedProcess } from '@ratebus/testkit';
import { awaitListening, ServerInDir } from './listening.js';

const SCRIPT = fileURLToPath(new URL('./bare-server.js', import.meta.url));

/** The bare `node:http` server (bare-server.ts) in its own process, serving `files` from memory. */
export class BareServer extends ServerInDir {
  static async start(files: ReadonlyMap<string, Buffer>): Promise<BareServer> {
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-bare-'));
    try {
      const manifest: Record<string, string> = {};
      let i = 0;
      for (const [target, body] of files) {
        const file = join(dir, `f${i++}.json`);
        writeFileSync(file, body);
        manifest[target] = file;
      }
      const manifestPath = join(dir, 'manifest.json');
      writeFileSync(manifestPath, JSON.stringify(manifest));
      const port = await freePort();
      const proc = await ManagedProcess.start({
        name: 'bare node:http',
        command: process.execPath,
        args: [SCRIPT, manifestPath, String(port)],
      });
      const bare = new BareServer(dir, port, proc);
      await awaitListening(bare, proc, 'bare node:http');
      return bare;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
}
