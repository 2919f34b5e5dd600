/**
 * What a failed etcd request means for the person who configured it (issue 16, bad input): the
 * gRPC client's messages ("14 UNAVAILABLE: No connection established. Last error: ...") turned
 * into the endpoint concerned and what to check. Pure: the client's message and the configured
 * endpoints in, one line out; a message it does not know is kept, with the endpoints.
 */

/** The etcd3 client's circuit breaker: after 3 failures in a row it refuses calls for 5 s, hiding the cause. */
const BREAKER = /circuit breaker is open/i;

interface Known {
  readonly re: RegExp;
  /** The host (or host:port) in the message, to name the endpoint; else every endpoint. */
  readonly host?: (m: RegExpExecArray) => string;
  readonly what: string;
}

const KNOWN: readonly Known[] = [
  { re: /ECONNREFUSED (\S+?)\.?(?:\s|$)/, host: (m) => m[1]!, what: 'connection refused: is etcd running there, listening on that address and port? Check endpoints' },
  { re: /EHOSTUNREACH (\S+?)\.?(?:\s|$)|ENETUNREACH (\S+?)\.?(?:\s|$)/, host: (m) => (m[1] ?? m[2])!, what: 'no route to that address: check endpoints and the routes of this host' },
  { re: /Name resolution failed for target dns:(\S+)/, host: (m) => m[1]!, what: 'cannot resolve the host name: check the name in endpoints (or use an address)' },
  { re: /ERR_TLS_CERT_ALTNAME_INVALID.*?(?:IP|Host): (\S+?) is not in the cert's list/, host: (m) => m[1]!,
    what: "etcd's certificate is not made for this host name or address: use in endpoints a name or address the certificate lists (subjectAltName), or reissue it" },
  { re: /certificate has expired/, what: "etcd's certificate has expired: renew etcd's server certificate" },
  { re: /certificate is not yet valid/, what: "etcd's certificate is not valid yet: check the clocks, or etcd's server certificate" },
  { re: /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate|certificate signature failure/,
    what: "etcd's certificate is not signed by the CA in tls.ca: set tls.ca to the CA that signed etcd's server certificate" },
  { re: /alert (?:number )?4[0-9]|bad certificate|certificate required|unknown ca/i,
    what: 'etcd refused our TLS client certificate: set tls.cert and tls.key to a certificate signed by the CA etcd trusts (--trusted-ca-file)' },
  { re: /wrong version number|packet length too long|ECONNRESET.*https|EPROTO/,
    what: 'the TLS handshake failed: does this endpoint speak TLS? (https:// endpoints need etcd started with --cert-file and --key-file)' },
  { re: /Protocol error|Received HTTP status code|Unexpected HTTP|Bad Request|not a gRPC|HTTP\/1/i,
    what: "answered, but not as etcd does (gRPC over HTTP/2): is that etcd's client port (usually 2379)? Check endpoints" },
  { re: /authentication failed|invalid user ID or password|user name not found|invalid auth token/i,
    what: 'etcd refused the user name or password: check user and password_file (its first line is the password)' },
  { re: /permission denied/i, what: "etcd denied the request: grant the user's role read/write on the prefix (etcdctl role grant-permission --prefix)" },
  { re: /no answer within (\d+) ms/, what: 'no answer in time: etcd down, overloaded, or packets dropped on the way' },
];

/** `host:port` of an endpoint URL. */
function hostPort(url: string): string {
  return url.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

/** The endpoints the host of a message belongs to (`host` or `host:port`), else all of them. */
function endpointsOf(host: string | undefined, endpoints: readonly string[]): string {
  if (host) {
    const h = host.replace(/^\[|\]$/g, '');
    const exact = endpoints.filter((e) => hostPort(e) === h);
    const byHost = exact.length ? exact : endpoints.filter((e) => hostPort(e).replace(/:\d+$/, '').replace(/^\[|\]$/g, '') === h.replace(/:\d+$/, ''));
    if (byHost.length) return byHost.join(', ');
  }
  return endpoints.length === 1 ? endpoints[0]! : `one of ${endpoints.join(', ')}`;
}

/** The gRPC wrapping, left out of the cause quoted at the end. */
function cause(message: string): string {
  return message.replace(/^\d+ [A-Z_]+: /, '').replace(/^No connection established\. Last error: /, '').replace(/(Error(?: \[\w+\])?: )/, '').replace(/\. Resolution note: ?$/, '').trim();
}

/**
 * One line for a failed request: `etcd at <endpoint>: <what it means> (<the client's words>)`,
 * or `undefined` for the circuit breaker's "try later", which says nothing about the cause (the
 * caller keeps the previous explanation).
 */
export function explainEtcdError(message: string, endpoints: readonly string[]): string | undefined {
  if (BREAKER.test(message)) return undefined;
  for (const k of KNOWN) {
    const m = k.re.exec(message);
    if (m) return `etcd at ${endpointsOf(k.host?.(m), endpoints)}: ${k.what} (${cause(message)})`;
  }
  return `etcd at ${endpointsOf(undefined, endpoints)}: ${message}`;
}

/**
 * Keeps the last cause across the client's circuit breaker: while it refuses calls, the message
 * stays the last real one, marked as such.
 */
export class EtcdErrorExplainer {
  private last: string | undefined;
  constructor(private readonly endpoints: readonly string[]) {}

  explain(message: string): string {
    const e = explainEtcdError(message, this.endpoints);
    if (e !== undefined) {
      this.last = e;
      return e;
    }
    return this.last !== undefined ? `${this.last}; the client pauses requests to it a few seconds after 3 failures`
      : `etcd at ${endpointsOf(undefined, this.endpoints)}: unreachable (the client pauses requests a few seconds after 3 failures)`;
  }
}
