import { PYYAML_SAME, runPython } from '@ratebus/fixtures';

/**
 * The reader, from the documented format only: key = sha256(url)[:16]; `.meta` is JSON with format "yaml",
 * module "octopus", expiry null and an aware ISO `created`; `.yaml` loads with `yaml.safe_load`. Compares
 * the value with `json.loads` of upstream's JSON for the URL, types included (a timestamp loaded as a
 * datetime, or a number loaded as a string, is a difference).
 */
const READER_PY = `
import datetime, hashlib, json, os, sys
${PYYAML_SAME}
req = json.load(sys.stdin)
out = []
for e in req["entries"]:
    key = hashlib.sha256(e["url"].encode("utf-8")).hexdigest()[:16]
    base = os.path.join(req["dir"], "octopus_" + key)
    if not os.path.exists(base + ".meta") or not os.path.exists(base + ".yaml"):
        out.append({"url": e["url"], "present": False})
        continue
    with open(base + ".meta") as f:
        meta = json.load(f)
    created = datetime.datetime.fromisoformat(meta["created"])
    meta_ok = (meta.get("format") == "yaml" and meta.get("module") == "octopus" and meta.get("expiry") is None
               and created.utcoffset() == datetime.timedelta(0))
    with open(base + ".yaml") as f:
        value = yaml.safe_load(f)
    upstream = json.loads(e["json"])
    prefix = isinstance(value, list) and isinstance(upstream, list) and same(value, upstream[:len(value)])
    out.append({"url": e["url"], "present": True, "metaOk": meta_ok, "created": meta["created"],
                "createdMs": int(created.timestamp() * 1000), "exact": same(value, upstream),
                "prefix": prefix, "length": len(value) if isinstance(value, list) else None,
                "value": json.dumps(value)})
print(json.dumps(out))
`;

export interface Read {
  url: string;
  present: boolean;
  metaOk?: boolean;
  created?: string;
  createdMs?: number;
  exact?: boolean;
  prefix?: boolean;
  length?: number | null;
  value?: string;
}

export function readWithPython(dir: string, entries: Array<{ url: string; json: string }>): Read[] {
  return runPython(READER_PY, { dir, entries }) as Read[];
}

/** What upstream (the simulator at `simUrl`) gives PredBat for a URL: the product object, or ≤ 3 pages of results. */
export async function upstreamValue(simUrl: string, path: string): Promise<string> {
  if (!path.includes('-tariffs/')) return (await fetch(`${simUrl}${path}`)).text();
  const rows: unknown[] = [];
  let url: string | null = `${simUrl}${path}`;
  for (let pages = 0; url && pages < 3; pages++) {
    const body = (await (await fetch(url)).json()) as { results: unknown[]; next: string | null };
    rows.push(...body.results);
    // `next` names the simulator's public origin, which may be a name only its network resolves (compose).
    url =
      body.next === null
        ? null
        : new URL(new URL(body.next).pathname + new URL(body.next).search, simUrl).href;
  }
  return JSON.stringify(rows);
}
