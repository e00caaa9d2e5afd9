/**
 * The limit for one Node.js process: a bare `node:http` server answering fixed bytes from memory, looked up
 * by request target. Run as a child: `node bare-server.js <manifest.json> <port>`; the manifest maps request
 * targets to files.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [manifestPath, portArg] = process.argv.slice(2);
if (manifestPath === undefined || portArg === undefined) {
  process.stderr.write('usage: bare-server <manifest.json> <port>\n');
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, string>;
const bodies = new Map<string, Buffer>();
for (const [target, file] of Object.entries(manifest)) bodies.set(target, readFileSync(file));

const server = createServer((req, res) => {
  const body = bodies.get(req.url ?? '');
  if (body === undefined) {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
