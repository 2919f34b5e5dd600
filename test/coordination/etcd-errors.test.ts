import { describe, expect, it } from 'vitest';
import { EtcdErrorExplainer, explainEtcdError } from '../../src/coordination/core/etcd-errors.js';

// The gRPC client's words, as seen in the lab (test/integration/coordination/etcd-bad-input.test.ts).
const NOCONN = (e: string) => `14 UNAVAILABLE: No connection established. Last error: ${e}. Resolution note: `;
const EPS = ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'];

describe('explainEtcdError', () => {
  it('names the endpoint of a refused connection, among several', () => {
    expect(explainEtcdError(NOCONN('Error: connect ECONNREFUSED 10.0.0.2:2379'), EPS))
      .toBe('etcd at http://10.0.0.2:2379: connection refused: is etcd running there, listening on that address and port? Check endpoints (connect ECONNREFUSED 10.0.0.2:2379)');
  });

  it('an unresolvable name, a server that is not etcd', () => {
    expect(explainEtcdError('14 UNAVAILABLE: Name resolution failed for target dns:etcd.invalid:2379', ['http://etcd.invalid:2379', ...EPS]))
      .toMatch(/^etcd at http:\/\/etcd\.invalid:2379: cannot resolve the host name: check the name in endpoints/);
    expect(explainEtcdError(NOCONN('Protocol error (2026-12-07T14:04:13.900Z)'), ['http://10.0.0.1:8080']))
      .toMatch(/^etcd at http:\/\/10\.0\.0\.1:8080: answered, but not as etcd does \(gRPC over HTTP\/2\): is that etcd's client port/);
  });

  it("certificates: another CA, another host name, expired", () => {
    const eps = ['https://10.0.0.1:2379', 'https://10.0.0.11:2379'];
    expect(explainEtcdError(NOCONN('Error: unable to verify the first certificate'), eps)).toMatch(/^etcd at one of https:\/\/10\.0\.0\.1:2379, https:\/\/10\.0\.0\.11:2379: etcd's certificate is not signed by the CA in tls\.ca/);
    expect(explainEtcdError(NOCONN("Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: IP: 10.0.0.11 is not in the cert's list: 10.0.0.1"), eps))
      .toMatch(/^etcd at https:\/\/10\.0\.0\.11:2379: etcd's certificate is not made for this host name or address/);
    expect(explainEtcdError(NOCONN('Error: certificate has expired'), eps.slice(0, 1))).toBe("etcd at https://10.0.0.1:2379: etcd's certificate has expired: renew etcd's server certificate (certificate has expired)");
  });

  it('authentication, timeouts, and an unknown message kept whole', () => {
    expect(explainEtcdError('etcdserver: authentication failed, invalid user ID or password', EPS)).toMatch(/refused the user name or password: check user and password_file/);
    expect(explainEtcdError('grant: no answer within 600 ms', EPS)).toMatch(/^etcd at one of .*: no answer in time/);
    expect(explainEtcdError('something new', EPS.slice(0, 1))).toBe('etcd at http://10.0.0.1:2379: something new');
  });

  it("keeps the last cause while the client's circuit breaker refuses calls", () => {
    const x = new EtcdErrorExplainer(EPS.slice(0, 1));
    expect(explainEtcdError('Execution prevented because the circuit breaker is open', EPS)).toBeUndefined();
    expect(x.explain('Execution prevented because the circuit breaker is open')).toMatch(/^etcd at http:\/\/10\.0\.0\.1:2379: unreachable/);
    x.explain(NOCONN('Error: connect ECONNREFUSED 10.0.0.1:2379'));
    expect(x.explain('Execution prevented because the circuit breaker is open')).toMatch(/connection refused.*; the client pauses requests to it a few seconds after 3 failures$/);
  });
});
