/**
 * Bounded values, over real sockets: a sidecar (or a value another client wrote) that answers with
 * far more than a value may be. The read stops as soon as the answer is known to be too large, by its
 * announced length or by the bytes received, the connection is dropped, the error is counted with its
 * own code, and the call returns the right value. Writes over the limit are not sent. The memory this
 * saves is measured by bench/big-value.mjs, not asserted here.
 */
import type { Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as E from 'fp-ts/lib/Either.js'
import { cacheable } from '../../src/cacheable.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import { InMemoryMetrics } from '../../src/Metrics.js'
import { startTestSidecar } from '../../src/testing/index.js'
import { collectingLogger } from '../helpers.js'

const MIB = 1024 * 1024

/** A server whose every GET is an endless stream of base64, announced as `announce` bytes or chunked. */
const flood = async (announce: number | undefined) => {
  let written = 0
  let closed = 0
  const responses = new Set<ServerResponse>()
  const server: Server = createServer((request, response) => {
    request.resume()
    if (request.method !== 'GET') return void response.writeHead(204).end()
    responses.add(response)
    response.on('close', () => {
      closed++
      responses.delete(response)
    })
    response.writeHead(200, { 'content-type': 'application/json', ...(announce === undefined ? {} : { 'content-length': String(announce) }) })
    const chunk = Buffer.alloc(64 * 1024, 'A')
    response.write('"')
    const pump = (): void => {
      while (!response.destroyed && written < 400 * MIB) {
        written += chunk.length
        if (!response.write(chunk)) return void response.once('drain', pump)
      }
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    written: () => written,
    closed: () => closed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of responses) response.destroy()
        server.close(() => resolve())
      }),
  }
}

describe('a read larger than maxValueBytes', () => {
  it('any other answer over 1 MiB is not read either', async () => {
    const server = await flood(undefined)
    const store = daprStore({ daprUrl: server.url, env: {}, breaker: false })
    try {
      // The flood server answers metadata with the same endless stream: the store stops reading.
      const started = Date.now()
      expect(await store.supportsCreate?.()).toBe(true) // cannot tell: try, and let a refused create say so
      expect(Date.now() - started).toBeLessThan(1_000)
    } finally {
      await store.close()
      await server.close()
    }
  })

  it.each([
    ['announced as 300 MB', 300 * MIB],
    ['chunked, with no length', undefined],
  ])('stops early when %s: the right value, in well under a second, counted as E_CACHE_VALUE_TOO_LARGE', async (_what, announce) => {
    const server = await flood(announce)
    const store = daprStore({ daprUrl: server.url, env: {}, maxValueBytes: MIB, breaker: false, timeoutMs: 5_000 })
    const metrics = new InMemoryMetrics()
    try {
      const getRow = cacheable({ store, metrics, logger: collectingLogger(), name: 'big.row' })(async (id: number) => ({ id }))
      const started = Date.now()
      expect(await getRow(1)).toEqual({ id: 1 })
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(metrics.getStats().errorsByCode).toMatchObject({ E_CACHE_VALUE_TOO_LARGE: 1 })
      const read = await store.get('k')()
      expect(E.isLeft(read) && read.left).toMatchObject({ _tag: 'ValueTooLarge', operation: 'read', limitBytes: MIB })
      // The connection was dropped, long before the server could send what it announced.
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(server.closed()).toBeGreaterThanOrEqual(2)
      expect(server.written()).toBeLessThan(64 * MIB)
    } finally {
      await store.close()
      await server.close()
    }
  })

  it('reads a value right at the limit', async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, maxValueBytes: 3 * 1024 })
    try {
      const value = new Uint8Array(3 * 1024).fill(7)
      expect(E.isRight(await store.set('k', value, 60)())).toBe(true)
      expect(await store.get('k')()).toEqual(E.right({ _tag: 'Some', value }))
    } finally {
      await store.close()
      await sidecar.close()
    }
  })
})

describe('a write larger than maxValueBytes', () => {
  it('is not sent; the call returns its value and the error is counted', async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, maxValueBytes: 1024 })
    const metrics = new InMemoryMetrics()
    try {
      const getBlob = cacheable({ store, metrics, logger: collectingLogger(), name: 'big.blob' })(async (n: number) => 'x'.repeat(n))
      expect(await getBlob(5_000)).toHaveLength(5_000)
      expect(sidecar.requests.map((request) => request.route)).toEqual(['get'])
      expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_VALUE_TOO_LARGE: 1 })
    } finally {
      await store.close()
      await sidecar.close()
    }
  })

  it('is refused by the memory store too', async () => {
    const store = memoryStore({ maxValueBytes: 10 })
    const stored = await store.set('k', new Uint8Array(11), 60)()
    expect(E.isLeft(stored) && stored.left).toMatchObject({ _tag: 'ValueTooLarge', operation: 'write', sizeBytes: 11, limitBytes: 10 })
    expect(() => memoryStore({ maxValueBytes: 0 })).toThrow(/maxValueBytes/)
  })
})
