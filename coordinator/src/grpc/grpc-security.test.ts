// TLS (server and mutual), the bearer token and the listen policy, against a real server on
// loopback. The certificates are a throwaway CA made with openssl in a temp dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorCore } from '../core/coordinator-core.ts';
import { CoordinatorClient } from '../client/coordinator-client.ts';
import { serveCoordinator } from './coordinator-server.ts';
import { checkHealth, checkListenPolicy, ListenError } from './grpc-server.ts';
import { Code, RpcError } from './rpc-error.ts';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM buffers. */
function makeCertificates(dir: string) {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=ballast-test-ca');
  for (const name of ['server', 'client', 'rogue']) {
    openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  }
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
  openssl(dir, 'x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '1', '-extfile', 'client.ext');
  // A client certificate that no trusted CA signed.
  openssl(dir, 'x509', '-req', '-in', 'rogue.csr', '-signkey', 'rogue.key', '-out', 'rogue.crt', '-days', '1');
  const read = (file: string) => readFileSync(join(dir, file));
  return {
    ca: read('ca.crt'),
    server: { cert: read('server.crt'), key: read('server.key') },
    client: { cert: read('client.crt'), key: read('client.key') },
    rogue: { cert: read('rogue.crt'), key: read('rogue.key') },
  };
}

async function code(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return Code.OK;
  } catch (error) {
    assert.ok(error instanceof RpcError, String(error));
    return error.code;
  }
}

describe('transport security', () => {
  let dir: string;
  let core: CoordinatorCore;
  let certs: ReturnType<typeof makeCertificates>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ballast-tls-'));
    certs = makeCertificates(dir);
    core = await CoordinatorCore.open({ stateDir: join(dir, 'state'), leaseTtlMs: 5000 });
  });

  after(async () => {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a bearer token is required on every call but health checks', async () => {
    const server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0', token: 's3cret-token' });
    const anonymous = new CoordinatorClient({ address: server.address });
    const wrong = new CoordinatorClient({ address: server.address, token: 's3cret-tokem' });
    const right = new CoordinatorClient({ address: server.address, token: 's3cret-token' });
    try {
      const refused = await anonymous.listExperiments().catch((error: unknown) => error);
      assert.ok(refused instanceof RpcError && refused.code === Code.UNAUTHENTICATED, String(refused));
      assert.match(refused.details, /missing bearer token/);
      assert.equal(await code(wrong.listExperiments()), Code.UNAUTHENTICATED);
      assert.equal(await code(anonymous.acquireTrial('w1')), Code.UNAUTHENTICATED);
      assert.equal(await code(right.listExperiments()), Code.OK);
      // Kubernetes probes cannot send metadata: health stays open.
      assert.equal(await checkHealth(server.address), 'SERVING');
    } finally {
      for (const client of [anonymous, wrong, right]) client.close();
      await server.shutdown(1000);
    }
  });

  test('TLS: clients verify the server with the CA; plaintext clients are refused', async () => {
    const server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0', tls: certs.server });
    const plaintext = new CoordinatorClient({ address: server.address, defaultTimeoutMs: 2000 });
    const untrusting = new CoordinatorClient({ address: server.address, tlsCa: certs.rogue.cert, defaultTimeoutMs: 2000 });
    const trusting = new CoordinatorClient({ address: server.address, tlsCa: certs.ca });
    try {
      assert.equal(await code(plaintext.listExperiments()), Code.UNAVAILABLE);
      assert.equal(await code(untrusting.listExperiments()), Code.UNAVAILABLE);
      assert.equal(await code(trusting.listExperiments()), Code.OK);
      assert.equal(await checkHealth(server.address, { tlsCa: certs.ca }), 'SERVING');
    } finally {
      for (const client of [plaintext, untrusting, trusting]) client.close();
      await server.shutdown(1000);
    }
  });

  test('mutual TLS: a client without a certificate from the CA is refused; with one, accepted', async () => {
    const server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0', tls: { ...certs.server, ca: certs.ca }, token: 'tok' });
    const noCert = new CoordinatorClient({ address: server.address, tlsCa: certs.ca, token: 'tok', defaultTimeoutMs: 2000 });
    const rogue = new CoordinatorClient({ address: server.address, tlsCa: certs.ca, tlsCert: certs.rogue.cert, tlsKey: certs.rogue.key, token: 'tok', defaultTimeoutMs: 2000 });
    const noToken = new CoordinatorClient({ address: server.address, tlsCa: certs.ca, tlsCert: certs.client.cert, tlsKey: certs.client.key });
    const good = new CoordinatorClient({ address: server.address, tlsCa: certs.ca, tlsCert: certs.client.cert, tlsKey: certs.client.key, token: 'tok' });
    try {
      assert.equal(await code(noCert.listExperiments()), Code.UNAVAILABLE);
      assert.equal(await code(rogue.listExperiments()), Code.UNAVAILABLE);
      assert.equal(await code(noToken.listExperiments()), Code.UNAUTHENTICATED);
      assert.equal(await code(good.listExperiments()), Code.OK);
    } finally {
      for (const client of [noCert, rogue, noToken, good]) client.close();
      await server.shutdown(1000);
    }
  });

  test('a non-loopback address needs TLS, a token or --insecure', () => {
    assert.throws(() => checkListenPolicy({ listen: '0.0.0.0:7070' }), ListenError);
    assert.throws(() => checkListenPolicy({ listen: '10.1.2.3:7070' }), /--insecure/);
    checkListenPolicy({ listen: '127.0.0.1:7070' });
    checkListenPolicy({ listen: 'localhost:7070' });
    checkListenPolicy({ listen: '[::1]:7070' });
    checkListenPolicy({ listen: '0.0.0.0:7070', token: 't' });
    checkListenPolicy({ listen: '0.0.0.0:7070', tls: certs.server });
    checkListenPolicy({ listen: '0.0.0.0:7070', insecure: true });
    assert.throws(() => checkListenPolicy({ listen: 'nonsense' }), /HOST:PORT/);
  });
});
