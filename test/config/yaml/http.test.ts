import { describe, expect, it } from 'vitest';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { isLoopback, parseListen } from '../../../src/config/yaml/http.js';
import { configErrorsIfAny, INSTANCES } from '../../helpers/config.js';

const errors = (text: string) => configErrorsIfAny(() => parseCarpoolYaml(text, { file: 'c.yaml' }));

describe('http: in carpool.yaml', () => {
  it('is off unless configured', () => {
    expect(parseCarpoolYaml(INSTANCES).config.http).toBeUndefined();
  });

  it('reads a loopback listener, IPv4 and IPv6', () => {
    expect(parseCarpoolYaml(`http: { listen: 127.0.0.1:9650 }\n${INSTANCES}`).config.http).toEqual({ host: '127.0.0.1', port: 9650 });
    expect(parseCarpoolYaml(`http: { listen: "[::1]:9650" }\n${INSTANCES}`).config.http).toEqual({ host: '::1', port: 9650 });
    expect(parseCarpoolYaml(`http: { listen: "localhost:80", token_file: /etc/carpool/token }\n${INSTANCES}`).config.http)
      .toEqual({ host: 'localhost', port: 80, tokenFile: '/etc/carpool/token' });
  });

  it('accepts any address with tls and a token', () => {
    const { config } = parseCarpoolYaml(`http:
  listen: 0.0.0.0:9650
  token_file: /etc/carpool/http.token
  tls: { cert: /etc/carpool/http.crt, key: /etc/carpool/http.key }
${INSTANCES}`);
    expect(config.http).toEqual({ host: '0.0.0.0', port: 9650, tokenFile: '/etc/carpool/http.token', tls: { cert: '/etc/carpool/http.crt', key: '/etc/carpool/http.key' } });
  });

  it('refuses a non-loopback listener without tls and a token, at its line', () => {
    const e = errors(`${INSTANCES}http:\n  listen: 0.0.0.0:9650\n  token_file: /etc/carpool/http.token\n`);
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ code: 'INSECURE_LISTEN', line: 8, column: 11 });
    expect(e[0]!.message).toBe('listening on 0.0.0.0 needs tls and a token (the status shows addresses and states)');
    expect(errors(`${INSTANCES}http:\n  listen: 10.0.0.1:9650\n  tls: { cert: /c, key: /k }\n`).map((d) => d.code)).toEqual(['INSECURE_LISTEN']);
  });

  it('reports a listen that is not host:port, with file:line', () => {
    const e = errors(`${INSTANCES}http:\n  listen: 9650\n`);
    expect(e.map((d) => [d.code, d.line])).toEqual([['INVALID_TYPE', 8]]);
    for (const bad of ['"127.0.0.1"', 'example.org:80', '127.0.0.1:0', '127.0.0.1:70000', '"::1:9650"', '"[::g]:1"']) {
      const d = errors(`${INSTANCES}http:\n  listen: ${bad}\n`);
      expect(d.map((x) => [x.code, x.line]), bad).toEqual([['INVALID_VALUE', 8]]);
      expect(d[0]!.expected).toMatch(/host:port/);
    }
  });

  it('reports missing and unknown keys, and incomplete tls', () => {
    expect(errors(`${INSTANCES}http: { token_file: /t }\n`).map((d) => d.code)).toEqual(['MISSING_KEY']);
    expect(errors(`${INSTANCES}http: { listen: 127.0.0.1:1, port: 2 }\n`).map((d) => d.code)).toEqual(['UNKNOWN_KEY']);
    expect(errors(`${INSTANCES}http: { listen: 127.0.0.1:1, tls: { cert: /c } }\n`).map((d) => d.code)).toEqual(['MISSING_KEY']);
    expect(errors(`${INSTANCES}http: { listen: 127.0.0.1:1, token_file: relative }\n`).map((d) => d.code)).toEqual(['INVALID_VALUE']);
  });
});

describe('listen addresses', () => {
  it('parses host:port', () => {
    expect(parseListen('127.0.0.1:9650')).toEqual({ host: '127.0.0.1', port: 9650 });
    expect(parseListen('[fe80::1]:1')).toEqual({ host: 'fe80::1', port: 1 });
    expect(parseListen(':9650')).toHaveProperty('error');
  });

  it('knows the loopback', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '0:0:0:0:0:0:0:1'].map(isLoopback)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', '::2', '128.0.0.1'].map(isLoopback)).toEqual([false, false, false, false, false]);
  });
});
