// Throwaway TLS material for the TLS tests: openssl makes a CA and two server
// certificates for 127.0.0.1 (EC keys: fast); helpers read what a new
// connection is given. Missing openssl locally: skip loudly; under CI=true fail.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { within } from './helpers.js';

/** True when openssl can run here; skips loudly, and fails under CI=true (the Debian image has it). */
export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env['CI'] === 'true') throw new Error('openssl is missing: the TLS tests make their certificates with it');
    console.log('skipping TLS tests: openssl not installed (apt-get install -y openssl)');
    return false;
  }
}

export interface Certificates {
  readonly dir: string;
  readonly ca: string;
  /** The two server certificates (same CA, same names) and their keys. */
  readonly a: { cert: string; key: string };
  readonly b: { cert: string; key: string };
}

export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-tls-'));
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=eventwire-test-ca');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['a', 'b']) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1');
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext');
  }
  const pair = (name: string) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) });
  return { dir, ca: join(dir, 'ca.pem'), a: pair('a'), b: pair('b') };
}

/** The certificate a new TLS connection to `port` is given. */
export function peerCertificate(port: number, ca: string): Promise<PeerCertificate> {
  return within(
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca) }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.on('error', reject);
    }),
    5000,
    'a TLS handshake',
  );
}

export function fingerprintOf(file: string): string {
  // openssl prints "sha256 Fingerprint=AB:CD:…", Node "AB:CD:…".
  return execFileSync('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).trim().split('=')[1]!;
}

export function httpsJson(url: string, ca: Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    }).on('error', reject);
  });
}
