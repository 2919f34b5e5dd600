/**
 * What stands in for Patroni in `npm run bench:etcd`: vip-manager only follows a leader key
 * (`--trigger-key`, `--trigger-value`), something must hold it. Debian's vip-manager 1.0.2
 * reads etcd through the v2 API, so this loop keeps the key the way Patroni's etcd (v2) backend
 * does (facts from Patroni's docs, our own code): one loop per node every LOOP_MS;
 *   - holder: refresh the key with a compare-and-swap on its own value and `ttl=TTL`
 *     (`PUT /v2/keys/KEY value=NAME ttl=TTL prevValue=NAME`); a failed refresh → not holder;
 *   - not holder: create the key if absent (`prevExist=false`, same ttl); if it exists, wait
 *     for a change of the key (`?wait=true`) for at most LOOP_MS, then try again.
 * So the key's lease timing is carpool's: ttl TTL seconds, kept alive every LOOP_MS.
 * SIGUSR1 = planned switchover: the holder deletes its key (`prevValue=NAME`) and stays out of
 * the contest for 3 × TTL, so another node takes the key.
 *
 * Runs inside a node's namespace: `node --import tsx bench/etcd-patroni.ts ENDPOINTS KEY NAME TTL_S LOOP_MS`
 * (ENDPOINTS comma separated). Prints one JSON line per change of role.
 */
const [endpointsCsv, key, name, ttlArg, loopArg] = process.argv.slice(2);
if (!endpointsCsv || !key || !name || !ttlArg || !loopArg) {
  process.stderr.write('usage: etcd-patroni.ts ENDPOINTS KEY NAME TTL_S LOOP_MS\n');
  process.exit(2);
}
const endpoints = endpointsCsv.split(',');
const ttl = Number(ttlArg);
const loopMs = Number(loopArg);
let ep = 0;
let holder = false;
let pausedUntil = 0;
let stopping = false;

const say = (event: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, name, t: Date.now(), ...extra })}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One v2 request; on a network error the next endpoint is used for the next request. */
async function v2(method: string, query: string, body?: Record<string, string>, timeoutMs = loopMs): Promise<number> {
  const url = `${endpoints[ep]}/v2/keys${key}${query}`;
  try {
    const res = await fetch(url, {
      method, signal: AbortSignal.timeout(timeoutMs),
      ...(body ? { body: new URLSearchParams(body).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
    });
    await res.arrayBuffer();
    return res.status;
  } catch (e) {
    if (!(e instanceof Error && e.name === 'TimeoutError' && query.includes('wait=true'))) ep = (ep + 1) % endpoints.length;
    return 0;
  }
}

function setHolder(h: boolean, why: string): void {
  if (h !== holder) say(h ? 'holder' : 'released', { why });
  holder = h;
}

process.on('SIGUSR1', () => {
  pausedUntil = Date.now() + 3 * ttl * 1000;
  if (!holder) return;
  setHolder(false, 'switchover');
  void v2('DELETE', `?prevValue=${encodeURIComponent(name)}`);
});
const stop = (): void => { stopping = true; };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

say('ready');
while (!stopping) {
  const t = Date.now();
  if (holder) {
    const st = await v2('PUT', '', { value: name, ttl: String(ttl), prevValue: name });
    if (st !== 200) setHolder(false, `refresh answered ${st}`);
    await sleep(Math.max(0, loopMs - (Date.now() - t)));
  } else if (Date.now() < pausedUntil) {
    await sleep(100);
  } else {
    const st = await v2('PUT', '', { value: name, ttl: String(ttl), prevExist: 'false' });
    if (st === 201) setHolder(true, 'created');
    else if (st === 412) await v2('GET', '?wait=true', undefined, loopMs); // held by another: watch for a change
    else await sleep(Math.max(0, loopMs - (Date.now() - t)));
  }
}
process.exit(0);
