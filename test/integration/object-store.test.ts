import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BadInputError, type ObjectInfo, PermanentError, RetryableError } from '@pv-pipeline/core';
import { FileObjectStore, type ObjectStore, openObjectStore, pinTo, S3ObjectStore } from '@pv-pipeline/pvdaq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';

const PAGED = 1205;
const BIG = 5000;
const A_TXT = 'hello world, 0123456789\n';

/** The tree both stores serve: relative key → content. */
function tree(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('a.txt', Buffer.from(A_TXT));
  files.set('big.bin', Buffer.alloc(BIG, 7));
  files.set('dir-b.txt', Buffer.from('sorts before dir/ because "-" < "/"'));
  files.set('dir/two.csv', Buffer.from('t,v\n1,2\n'));
  files.set('dir/sub/one.csv', Buffer.from('t,v\n3,4\n'));
  files.set('u/z.txt', Buffer.from('z'));
  files.set('u/é.txt', Buffer.from('e acute'));
  for (let i = 0; i < PAGED; i++) files.set(`x/k${String(i).padStart(4, '0')}.txt`, Buffer.from(`object ${i}`));
  return files;
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
/**
 * s3rver's order: it walks its data directory, so it sorts by path component
 * (`dir/…` before `dir-b.txt`) where real S3 sorts by the whole key's bytes
 * (`dir-b.txt` first, since "-" < "/"). Within one "directory" both agree.
 */
const s3rverOrder = (a: string, b: string) => {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = byteOrder(pa[i] as string, pb[i] as string);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
};

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const FILES = tree();
const SORTED_KEYS = [...FILES.keys()].sort(byteOrder);

let localDir: string;
let s3: S3Server;
let stores: Record<'file' | 's3', ObjectStore>;

beforeAll(async () => {
  localDir = await mkdtemp(path.join(tmpdir(), 'object-store-'));
  const writes: Promise<void>[] = [];
  for (const dir of ['dir/sub', 'u', 'x']) await mkdir(path.join(localDir, dir), { recursive: true });
  for (const [key, body] of FILES) writes.push(writeFile(path.join(localDir, key), body));
  await Promise.all(writes);
  s3 = await startS3Server();
  const uploaded = await s3.uploadDir(localDir, 'pvbucket', 'pvdaq', 64);
  expect(uploaded).toBe(FILES.size);
  stores = {
    file: new FileObjectStore(localDir),
    s3: new S3ObjectStore({
      bucket: 'pvbucket',
      prefix: 'pvdaq',
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
      region: 'us-east-1',
      maxAttempts: 2,
    }),
  };
});

afterAll(async () => {
  await Promise.all(Object.values(stores ?? {}).map((s) => s.close()));
  await s3?.stop();
  if (localDir) await rm(localDir, { recursive: true, force: true });
});

describe.each(['file', 's3'] as const)('%s object store', (kind) => {
  const store = () => stores[kind];
  /** The order this store lists in: S3's byte order, or s3rver's component order. */
  const order = kind === 'file' ? byteOrder : s3rverOrder;

  it('has a credential-free url', () => {
    if (kind === 'file') expect(store().url).toBe(`file://${localDir}`);
    else expect(store().url).toBe(`s3://pvbucket/pvdaq via ${s3.endpoint}`);
    expect(store().url).not.toContain('S3RVER');
  });

  it(`lists ${PAGED} keys under x/ once each, sorted, across pages`, async () => {
    const listed = await collect(store().listObjects('x/'));
    const keys = listed.map((o) => o.key);
    expect(keys).toHaveLength(PAGED);
    expect(new Set(keys).size).toBe(PAGED);
    expect(keys).toEqual(SORTED_KEYS.filter((k) => k.startsWith('x/')));
    expect(listed[7]).toMatchObject({
      key: 'x/k0007.txt',
      size: 'object 7'.length,
      etag: md5(Buffer.from('object 7')),
    });
    expect(listed[7]?.lastModified).toBeInstanceOf(Date);
  });

  it('lists the whole root in S3 key order, with partial prefixes', async () => {
    const all = await collect(store().listObjects(''));
    expect(all.map((o) => o.key)).toEqual([...SORTED_KEYS].sort(order));
    for (const o of all.slice(0, 10)) {
      const body = FILES.get(o.key) as Buffer;
      expect(o.size).toBe(body.length);
      expect(o.etag).toBe(md5(body));
    }
    expect((await collect(store().listObjects('dir'))).map((o) => o.key)).toEqual(
      ['dir-b.txt', 'dir/sub/one.csv', 'dir/two.csv'].sort(order),
    );
    expect((await collect(store().listObjects('x/k120'))).map((o) => o.key)).toEqual(
      ['0', '1', '2', '3', '4'].map((d) => `x/k120${d}.txt`),
    );
    expect(await collect(store().listObjects('nothing/here/'))).toEqual([]);
  });

  it('lists children: sub-prefixes and direct objects', async () => {
    const root = await store().listChildren('');
    expect(root.prefixes).toEqual(['dir/', 'u/', 'x/']);
    expect(root.objects.map((o) => o.key)).toEqual(['a.txt', 'big.bin', 'dir-b.txt']);
    expect(root.objects[1]).toMatchObject({ size: BIG, etag: md5(FILES.get('big.bin') as Buffer) });
    const dir = await store().listChildren('dir/');
    expect(dir.prefixes).toEqual(['dir/sub/']);
    expect(dir.objects.map((o) => o.key)).toEqual(['dir/two.csv']);
    const x = await store().listChildren('x/');
    expect(x.prefixes).toEqual([]);
    expect(x.objects).toHaveLength(PAGED);
    expect(await store().listChildren('missing/')).toEqual({ prefixes: [], objects: [] });
  });

  it('heads objects: size and an unquoted md5 etag; null when missing', async () => {
    const info = (await store().head('a.txt')) as ObjectInfo;
    expect(info).toMatchObject({ key: 'a.txt', size: A_TXT.length, etag: md5(Buffer.from(A_TXT)) });
    expect(info.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(info.lastModified).toBeInstanceOf(Date);
    expect(await store().head('missing.txt')).toBeNull();
    expect(await store().head('dir/nope/x.csv')).toBeNull();
    expect(await store().head('x/')).toBeNull();
    expect((await store().head('u/é.txt'))?.size).toBe('e acute'.length);
  });

  it('reads bytes back unchanged', async () => {
    expect(Buffer.from(await store().getBytes('a.txt', { maxBytes: 1000 })).toString()).toBe(A_TXT);
    const big = await store().getBytes('big.bin', { maxBytes: BIG });
    expect(big).toBeInstanceOf(Uint8Array);
    expect(Buffer.compare(Buffer.from(big), FILES.get('big.bin') as Buffer)).toBe(0);
    expect(Buffer.from(await store().getBytes('dir/sub/one.csv', { maxBytes: 100 })).toString()).toBe('t,v\n3,4\n');
  });

  it('refuses objects above maxBytes, naming the key', async () => {
    const err = await caught(store().getBytes('big.bin', { maxBytes: 100 }));
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).input).toBe('big.bin');
    expect((err as Error).message).toBe('big.bin: object is 5000 bytes, larger than the limit of 100 bytes');
  });

  it('streams whole objects and inclusive byte ranges', async () => {
    expect((await readAll(await store().getStream('a.txt'))).toString()).toBe(A_TXT);
    const part = await readAll(await store().getStream('a.txt', { range: { start: 3, end: 9 } }));
    expect(part.toString()).toBe(A_TXT.slice(3, 10));
    expect(part.toString()).toBe('lo worl');
    const tail = await readAll(await store().getStream('a.txt', { range: { start: 20, end: 999 } }));
    expect(tail.toString()).toBe(A_TXT.slice(20));
    const bad = await caught(store().getStream('a.txt', { range: { start: 5, end: 2 } }));
    expect(bad).toBeInstanceOf(BadInputError);
  });

  it('pins reads to the listed ETag: that version reads, any other is refused naming the key', async () => {
    const etag = md5(Buffer.from(A_TXT));
    const stale = md5(Buffer.from('an earlier version'));
    expect(Buffer.from(await store().getBytes('a.txt', { maxBytes: 1000, ifMatch: etag })).toString()).toBe(A_TXT);
    const range = { start: 3, end: 9 };
    expect((await readAll(await store().getStream('a.txt', { range, ifMatch: etag }))).toString()).toBe('lo worl');
    for (const read of [
      () => store().getBytes('a.txt', { maxBytes: 1000, ifMatch: stale }),
      () => store().getStream('a.txt', { ifMatch: stale }),
      () => store().getStream('a.txt', { range, ifMatch: stale }),
    ]) {
      const err = await caught(read);
      expect(err).toBeInstanceOf(BadInputError);
      expect((err as BadInputError).input).toBe('a.txt');
      // s3rver ignores If-Match: the ETag of its answer gives the change away
      expect((err as Error).message).toBe(
        `a.txt: changed since it was listed (ETag ${stale} when planned, ETag ${etag} now); the next run loads the new version`,
      );
    }
  });

  it('throws BadInputError naming a missing key', async () => {
    for (const read of [
      () => store().getBytes('nope/missing.csv', { maxBytes: 10 }),
      () => store().getStream('nope/missing.csv'),
    ]) {
      const err = await caught(read);
      expect(err).toBeInstanceOf(BadInputError);
      expect((err as BadInputError).input).toBe('nope/missing.csv');
      expect((err as Error).message).toBe('nope/missing.csv: object not found');
    }
  });
});

describe('FileObjectStore', () => {
  it('rejects keys that escape the root', async () => {
    const store = stores.file;
    const calls = (key: string) => [
      () => store.head(key),
      () => store.getBytes(key, { maxBytes: 10 }),
      () => store.getStream(key),
      () => collect(store.listObjects(key)),
      () => store.listChildren(key),
    ];
    for (const key of ['../etc/passwd', 'a/../../x', '/etc/passwd', 'x/../a.txt', '..', 'a\\b', 'a\0b']) {
      for (const call of calls(key)) {
        const err = await caught(call);
        expect(err, key).toBeInstanceOf(BadInputError);
        expect((err as Error).message).toBe(`${key}: key escapes the source root`);
      }
    }
    for (const key of ['./a.txt', 'x//k0001.txt', 'x/./k0001.txt']) {
      for (const call of calls(key)) {
        const err = await caught(call);
        expect(err, key).toBeInstanceOf(BadInputError);
        expect((err as Error).message).toBe(`${key}: key has an empty or "." path segment`);
      }
    }
    expect(await caught(store.getBytes('x/', { maxBytes: 10 }))).toBeInstanceOf(BadInputError);
  });

  it('orders keys by UTF-8 bytes like S3, follows file symlinks, skips dangling ones', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'object-store-order-'));
    try {
      await writeFile(path.join(dir, '\uFF21.txt'), 'fullwidth A');
      await writeFile(path.join(dir, '\u{1F600}.txt'), 'emoji');
      await writeFile(path.join(dir, 'b.txt'), 'b');
      await symlink(path.join(dir, 'b.txt'), path.join(dir, 'c-link.txt'));
      await symlink(path.join(dir, 'gone.txt'), path.join(dir, 'dangling.txt'));
      const store = new FileObjectStore(dir);
      const keys = (await collect(store.listObjects(''))).map((o) => o.key);
      // UTF-16 order would put the emoji (D83D) before U+FF21; UTF-8 order does not.
      expect(keys).toEqual(['b.txt', 'c-link.txt', '\uFF21.txt', '\u{1F600}.txt']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists no directory a symlink leads out of the root, and survives symlink loops (issue #14, defect 7)', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'object-store-links-'));
    try {
      const root = path.join(base, 'root');
      const outside = path.join(base, 'outside');
      await mkdir(path.join(root, 'csv', 'inner'), { recursive: true });
      await mkdir(outside, { recursive: true });
      await writeFile(path.join(root, 'csv', 'inner', 'a.csv'), 'a');
      await writeFile(path.join(outside, 'secret.csv'), 'outside the root');
      await symlink(outside, path.join(root, 'csv', 'escape')); // a directory outside the root
      await symlink(path.join(root, 'csv'), path.join(root, 'csv', 'inner', 'loop')); // back up: a loop
      await symlink(path.join(root, 'csv', 'self'), path.join(root, 'csv', 'self')); // a link to itself
      await symlink(path.join(root, 'csv', 'inner'), path.join(root, 'csv', 'alias')); // inside: listed
      const store = new FileObjectStore(root);
      const keys = (await collect(store.listObjects(''))).map((o) => o.key);
      expect(keys).toEqual(['csv/alias/a.csv', 'csv/inner/a.csv']);
      expect((await store.listChildren('csv/')).prefixes).toEqual(['csv/alias/', 'csv/inner/']);
      expect((await store.listChildren('csv/inner/')).prefixes).toEqual([]);
      expect(await caught(store.getBytes('csv/escape/secret.csv', { maxBytes: 100 }))).toBeInstanceOf(BadInputError);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('fails listing a root that does not exist with PermanentError', async () => {
    const store = new FileObjectStore(path.join(localDir, 'no-such-root'));
    expect(await caught(collect(store.listObjects('')))).toBeInstanceOf(PermanentError);
    expect(await store.head('a.txt')).toBeNull();
  });
  it('gives a file hashed in pieces (over 1 MiB) the MD5 of its whole content', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'object-store-big-'));
    try {
      // 2.5 MiB and 7 bytes of varied bytes: two whole pieces, a part piece
      const body = Buffer.alloc(2.5 * 1024 * 1024 + 7);
      for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 10)) & 0xff;
      await writeFile(path.join(dir, 'big.csv'), body);
      const store = new FileObjectStore(dir);
      expect(await collect(store.listObjects(''))).toMatchObject([
        { key: 'big.csv', size: body.length, etag: md5(body) },
      ]);
      expect((await store.head('big.csv'))?.etag).toBe(md5(body));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('notices a file rewritten after it was listed, for pinned ranged reads too', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'object-store-pin-'));
    try {
      const file = path.join(dir, 'day.csv');
      await writeFile(file, 'a,b\n1,2\n');
      const store = new FileObjectStore(dir);
      const [listed] = await collect(store.listObjects(''));
      const range = { start: 4, end: 7 };
      expect((await readAll(await store.getStream('day.csv', { range, ifMatch: listed!.etag }))).toString()).toBe(
        '1,2\n',
      );
      // the same size, a new mtime: hashed again, not taken from memory
      await writeFile(file, 'a,b\n3,4\n');
      const err = await caught(store.getStream('day.csv', { range, ifMatch: listed!.etag }));
      expect((err as Error).message).toBe(
        `day.csv: changed since it was listed (ETag ${listed!.etag} when planned, ETag ${md5(Buffer.from('a,b\n3,4\n'))} now); the next run loads the new version`,
      );
      expect(await caught(store.getBytes('day.csv', { maxBytes: 100, ifMatch: listed!.etag }))).toBeInstanceOf(
        BadInputError,
      );
      // a whole read takes the remembered ETag only while the stat is the one hashed: a rewrite is hashed again
      const [relisted] = await collect(store.listObjects(''));
      expect(Buffer.from(await store.getBytes('day.csv', { maxBytes: 100, ifMatch: relisted!.etag })).toString()).toBe(
        'a,b\n3,4\n',
      );
      await writeFile(file, 'a,b\n5,6\n');
      expect(
        ((await caught(store.getBytes('day.csv', { maxBytes: 100, ifMatch: relisted!.etag }))) as Error).message,
      ).toBe(
        `day.csv: changed since it was listed (ETag ${relisted!.etag} when planned, ETag ${md5(Buffer.from('a,b\n5,6\n'))} now); the next run loads the new version`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('trusts the ETag another store listed while the file keeps its listed version, and hashes it once it changes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'object-store-version-'));
    try {
      const file = path.join(dir, 'day.csv');
      await writeFile(file, 'a,b\n1,2\n');
      const [listed] = await collect(new FileObjectStore(dir).listObjects(''));
      expect(listed!.fileVersion).toMatch(/^\d+:\d+:8:[\d.]+$/);
      // a queue worker's store listed nothing: the listed version stands in for hashing
      const worker = () => new FileObjectStore(dir);
      const bytes = await worker().getBytes('day.csv', { maxBytes: 100, ...pinTo(listed!) });
      expect(Buffer.from(bytes).toString()).toBe('a,b\n1,2\n');
      const range = { start: 4, end: 7 };
      expect((await readAll(await worker().getStream('day.csv', { range, ...pinTo(listed!) }))).toString()).toBe(
        '1,2\n',
      );
      // the version alone decides: while it holds, the file is not hashed (so even an ETag it never had is taken)
      const unhashed = { maxBytes: 100, ifMatch: 'f'.repeat(32), listedVersion: listed!.fileVersion! };
      expect(Buffer.from(await worker().getBytes('day.csv', unhashed)).toString()).toBe('a,b\n1,2\n');
      // the same size, a new mtime: another version, hashed, and refused
      await writeFile(file, 'a,b\n3,4\n');
      const changed = `day.csv: changed since it was listed (ETag ${listed!.etag} when planned, ETag ${md5(Buffer.from('a,b\n3,4\n'))} now); the next run loads the new version`;
      expect(
        ((await caught(worker().getBytes('day.csv', { maxBytes: 100, ...pinTo(listed!) }))) as Error).message,
      ).toBe(changed);
      expect(((await caught(worker().getStream('day.csv', { range, ...pinTo(listed!) }))) as Error).message).toBe(
        changed,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A fake S3 endpoint that records request headers and answers with a fixed status. */
async function fakeS3(respond: (url: string) => { status: number; body: string }): Promise<{
  endpoint: string;
  headers: IncomingHttpHeaders[];
  server: Server;
}> {
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    headers.push(req.headers);
    const { status, body } = respond(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { endpoint: `http://127.0.0.1:${port}`, headers, server };
}

const errorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>r1</RequestId></Error>`;

describe('S3ObjectStore', () => {
  it('maps a refused connection to RetryableError naming the key', async () => {
    const port = await freePort(); // nothing listens there any more
    const store = new S3ObjectStore({
      bucket: 'pvbucket',
      prefix: 'pvdaq',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      for (const call of [
        () => store.getBytes('a.txt', { maxBytes: 10 }),
        () => store.head('a.txt'),
        () => store.getStream('a.txt'),
      ]) {
        const err = await caught(call);
        expect(err).toBeInstanceOf(RetryableError);
        expect((err as Error).message).toMatch(
          /^a\.txt: S3 \w+ on s3:\/\/pvbucket\/pvdaq via http:\/\/127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/,
        );
      }
      const listErr = await caught(collect(store.listObjects('x/')));
      expect(listErr).toBeInstanceOf(RetryableError);
      expect((listErr as Error).message).toMatch(/^x\/: .*ECONNREFUSED/);
    } finally {
      await store.close();
    }
  });

  it('maps 503 SlowDown / 500 to RetryableError and 403 to PermanentError', async () => {
    const fake = await fakeS3((url) => {
      if (url.includes('slow')) return { status: 503, body: errorXml('SlowDown', 'Please reduce your request rate.') };
      if (url.includes('boom'))
        return { status: 500, body: errorXml('InternalError', 'We encountered an internal error.') };
      return { status: 403, body: errorXml('AccessDenied', 'Access Denied') };
    });
    const store = new S3ObjectStore({
      bucket: 'b-fake',
      prefix: 'p',
      endpoint: fake.endpoint,
      anonymous: true,
      maxAttempts: 1,
    });
    try {
      const slow = await caught(store.getBytes('slow.csv', { maxBytes: 10 }));
      expect(slow).toBeInstanceOf(RetryableError);
      expect((slow as Error).message).toContain('slow.csv');
      expect((slow as Error).message).toContain('SlowDown');
      expect(await caught(store.getStream('boom.csv'))).toBeInstanceOf(RetryableError);
      expect(await caught(store.head('boom.csv'))).toBeInstanceOf(RetryableError);
      const denied = await caught(store.getBytes('secret.csv', { maxBytes: 10 }));
      expect(denied).toBeInstanceOf(PermanentError);
      expect((denied as Error).message).toMatch(/^secret\.csv: .*access denied/);
      expect(await caught(store.head('secret.csv'))).toBeInstanceOf(PermanentError);
      expect(await caught(collect(store.listObjects('')))).toBeInstanceOf(PermanentError);
    } finally {
      await store.close();
      fake.server.close();
    }
  });

  it('sends If-Match for a pinned read and maps 412 to a changed-object BadInputError', async () => {
    const fake = await fakeS3(() => ({
      status: 412,
      body: errorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'),
    }));
    const store = new S3ObjectStore({ bucket: 'b-fake', endpoint: fake.endpoint, anonymous: true, maxAttempts: 3 });
    try {
      for (const read of [
        () => store.getBytes('d/x.csv', { maxBytes: 10, ifMatch: 'abc' }),
        () => store.getStream('d/x.csv', { range: { start: 0, end: 5 }, ifMatch: 'abc' }),
      ]) {
        const err = await caught(read);
        expect(err).toBeInstanceOf(BadInputError);
        expect((err as Error).message).toBe(
          'd/x.csv: changed since it was listed (ETag abc when planned, another ETag now); the next run loads the new version',
        );
      }
      // quoted, as S3 wants it; and a 412 is not retried
      expect(fake.headers.map((h) => h['if-match'])).toEqual(['"abc"', '"abc"']);
    } finally {
      await store.close();
      fake.server.close();
    }
  });

  it('aborts a body without Content-Length once it passes maxBytes; maps a reset mid-body to RetryableError', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((req, res) => {
      if (req.url?.includes('chunked')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no Content-Length
        res.write(Buffer.alloc(150, 1));
        setTimeout(() => res.write(Buffer.alloc(150, 2)), 10);
        return; // never ends: the reader must stop by itself
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write(Buffer.alloc(10, 1));
      setTimeout(() => req.socket.destroy(), 20);
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const store = new S3ObjectStore({
      bucket: 'b-fake',
      prefix: 'p',
      endpoint: `http://127.0.0.1:${port}`,
      anonymous: true,
      maxAttempts: 1,
    });
    try {
      const big = await caught(store.getBytes('chunked.bin', { maxBytes: 200 }));
      expect(big).toBeInstanceOf(BadInputError);
      expect((big as Error).message).toMatch(
        /^chunked\.bin: object is at least \d+ bytes, larger than the limit of 200 bytes$/,
      );
      const reset = await caught(store.getBytes('reset.bin', { maxBytes: 5000 }));
      expect(reset).toBeInstanceOf(RetryableError);
      expect((reset as Error).message).toMatch(/^reset\.bin: S3 GetObject \(reading the body\)/);
      const streamed = await caught(async () => readAll(await store.getStream('reset.bin')));
      expect(streamed).toBeInstanceOf(RetryableError);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('sends unsigned requests when anonymous, never touching a credential provider', async () => {
    const fake = await fakeS3(() => ({
      status: 200,
      body: '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b-fake</Name><Prefix>p/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>p/a.txt</Key><Size>3</Size><ETag>"abc"</ETag></Contents></ListBucketResult>',
    }));
    const saved = { ...process.env };
    // A broken profile: the default chain would throw if anything consulted it.
    process.env.AWS_PROFILE = 'no-such-profile-for-this-test';
    process.env.AWS_CONFIG_FILE = path.join(localDir, 'missing-config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(localDir, 'missing-credentials');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    for (const name of Object.keys(process.env)) {
      if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|CONTAINER_|WEB_IDENTITY|ROLE_ARN)/.test(name))
        delete process.env[name];
    }
    const store = new S3ObjectStore({
      bucket: 'b-fake',
      prefix: 'p',
      endpoint: fake.endpoint,
      anonymous: true,
      maxAttempts: 1,
    });
    try {
      expect(store.anonymous).toBe(true);
      expect(await collect(store.listObjects(''))).toEqual([{ key: 'a.txt', etag: 'abc', size: 3 }]);
      expect(fake.headers).toHaveLength(1);
      const h = fake.headers[0] as IncomingHttpHeaders;
      expect(h.authorization).toBeUndefined();
      expect(h['x-amz-security-token']).toBeUndefined();
      expect(h['x-amz-date']).toBeUndefined();
      // The same settings without anonymous do go to the (broken) default chain.
      const signed = new S3ObjectStore({ bucket: 'b-fake', prefix: 'p', endpoint: fake.endpoint, maxAttempts: 1 });
      expect(signed.anonymous).toBe(false);
      expect(await caught(collect(signed.listObjects('')))).toBeInstanceOf(PermanentError);
      await signed.close();
    } finally {
      process.env = saved;
      await store.close();
      fake.server.close();
    }
  });

  it('defaults to anonymous only for the public OEDI bucket on AWS', () => {
    expect(new S3ObjectStore({ bucket: 'oedi-data-lake', prefix: 'pvdaq' }).anonymous).toBe(true);
    expect(new S3ObjectStore({ bucket: 'oedi-data-lake', prefix: 'pvdaq', endpoint: s3.endpoint }).anonymous).toBe(
      false,
    );
    expect(new S3ObjectStore({ bucket: 'other', prefix: 'pvdaq' }).anonymous).toBe(false);
    expect(
      new S3ObjectStore({ bucket: 'oedi-data-lake', prefix: 'pvdaq', credentials: S3RVER_CREDENTIALS }).anonymous,
    ).toBe(false);
    expect(new S3ObjectStore({ bucket: 'oedi-data-lake', prefix: 'pvdaq/' }).url).toBe('s3://oedi-data-lake/pvdaq');
  });

  it('reads from s3rver anonymously (s3rver accepts unsigned requests)', async () => {
    const store = new S3ObjectStore({ bucket: 'pvbucket', prefix: 'pvdaq', endpoint: s3.endpoint, anonymous: true });
    try {
      expect(Buffer.from(await store.getBytes('a.txt', { maxBytes: 100 })).toString()).toBe(A_TXT);
      expect((await collect(store.listObjects('dir/'))).map((o) => o.key)).toEqual(['dir/sub/one.csv', 'dir/two.csv']);
    } finally {
      await store.close();
    }
  });

  it('works at the bucket root (empty prefix)', async () => {
    await s3.putObjects('rootbucket', [
      { key: 'one.txt', body: '1' },
      { key: 'd/two.txt', body: new Uint8Array([50]) },
    ]);
    const store = new S3ObjectStore({ bucket: 'rootbucket', endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    try {
      expect((await collect(store.listObjects(''))).map((o) => o.key)).toEqual(['d/two.txt', 'one.txt']);
      expect(await store.listChildren('')).toMatchObject({ prefixes: ['d/'], objects: [{ key: 'one.txt', size: 1 }] });
      expect(Buffer.from(await store.getBytes('d/two.txt', { maxBytes: 1 })).toString()).toBe('2');
      expect(store.url).toBe(`s3://rootbucket via ${s3.endpoint}`);
    } finally {
      await store.close();
    }
  });
});

describe('openObjectStore', () => {
  it('opens s3:// URLs with the endpoint options', async () => {
    const store = openObjectStore('s3://pvbucket/pvdaq/', {
      s3Endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    });
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.url).toBe(`s3://pvbucket/pvdaq via ${s3.endpoint}`);
    expect((await store.head('a.txt'))?.size).toBe(A_TXT.length);
    await store.close();
    const oedi = openObjectStore('s3://oedi-data-lake/pvdaq') as S3ObjectStore;
    expect(oedi.prefix).toBe('pvdaq');
    expect(oedi.anonymous).toBe(true);
    await oedi.close();
    expect((openObjectStore('s3://oedi-data-lake') as S3ObjectStore).prefix).toBe('');
  });

  it('opens file:// URLs: absolute, ./relative and bare relative', async () => {
    const abs = openObjectStore(`file://${localDir}/`);
    expect(abs).toBeInstanceOf(FileObjectStore);
    expect((abs as FileObjectStore).root).toBe(localDir);
    expect((await abs.head('a.txt'))?.size).toBe(A_TXT.length);
    const rel = path.relative(process.cwd(), localDir);
    expect((openObjectStore(`file://./${rel}`) as FileObjectStore).root).toBe(localDir);
    expect((openObjectStore(`file://${rel}//`) as FileObjectStore).root).toBe(localDir);
    expect((openObjectStore('file://samples/pvdaq') as FileObjectStore).root).toBe(path.resolve('samples/pvdaq'));
    expect((openObjectStore('file:///tmp/a%20b') as FileObjectStore).root).toBe('/tmp/a b');
  });

  it.each([
    ['samples/pvdaq', /is not a URL/],
    ['http://example.com/x', /unsupported scheme "http:"/],
    ['gs://bucket/x', /unsupported scheme "gs:"/],
    ['s3://', /bucket name is missing/],
    ['s3:///pvdaq', /bucket name is missing/],
    ['s3:bucket/pvdaq', /malformed S3 URL/],
    ['s3://Bad_Bucket!/x', /not a valid bucket name/],
    ['s3://key:secret@bucket/x', /credentials must not be put in the S3 URL/],
    ['s3://bucket/a//b', /empty path segment/],
    ['s3://bucket/x?versionId=1', /query strings/],
    ['file://', /the directory is missing/],
    ['file:/abs/dir', /malformed file URL/],
    ['file:///tmp/x?y', /query strings/],
  ])('rejects %s', (url, reason) => {
    let err: unknown;
    try {
      openObjectStore(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).input).toBe('--source');
    expect((err as Error).message).toMatch(reason);
    expect((err as Error).message).not.toContain('secret');
  });
});
