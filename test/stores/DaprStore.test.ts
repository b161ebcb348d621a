/**
 * The Dapr store over real HTTP against the test sidecar on loopback: the conformance suite, the
 * Python wire format, and the mapping of every kind of answer to a typed result.
 */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { manualClock } from '../../src/Clock.js'
import { CacheConnectionError, CacheOptionsError } from '../../src/errors.js'
import { daprStore, parseValue, resolveDaprUrl, saveBody } from '../../src/stores/DaprStore.js'
import { startTestSidecar } from '../../src/testing/index.js'
import type { TestSidecar } from '../../src/testing/index.js'
import { saveItems } from '../../src/stores/dapr/wire.js'
import { pythonVectors } from '../helpers.js'
import { describeStore, manualTime } from '../storeConformance.js'

const vectors = pythonVectors

// With batched reads (the default) and without, and on every component the test sidecar stands in
// for (PostgreSQL refuses a first write with a 500, Redis Cluster a transaction across hash slots,
// MongoDB keeps expired documents in the way of a first write):
// the store keeps the same contract.
const targets = [
  ['', true, 'in-memory'],
  [', reads unbatched', false, 'in-memory'],
  [', Redis flavour', true, 'redis'],
  [', Redis Cluster flavour', true, 'redis-cluster'],
  [', PostgreSQL flavour', true, 'postgres'],
  [', MongoDB flavour', true, 'mongodb'],
] as const
for (const [label, batch, flavour] of targets) {
  describeStore(`daprStore over HTTP${label}`, async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1))
    const sidecar = await startTestSidecar({ clock, flavour })
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch })
    return {
      store,
      elapse: manualTime(clock),
      teardown: async () => {
        await store.close()
        await sidecar.close()
      },
    }
  })
}

describe('daprStore', () => {
  let sidecar: TestSidecar
  beforeAll(async () => {
    sidecar = await startTestSidecar({ stores: ['cache', 'other'] })
  })
  afterAll(async () => {
    await sidecar.close()
  })
  beforeEach(() => {
    sidecar.clearFaults()
    sidecar.clearRequests()
  })

  const withStore = async <T>(run: (store: ReturnType<typeof daprStore>) => Promise<T>, options = {}): Promise<T> => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, ...options })
    try {
      return await run(store)
    } finally {
      await store.close()
    }
  }

  describe('wire format, as the Python library', () => {
    it.each(vectors.values.map((vector) => [vector.wire, vector] as const))('writes %s exactly', async (_wire, vector) => {
      await withStore(async (store) => {
        const bytes = Buffer.from(vector.msgpack_hex, 'hex')
        expect(E.isRight(await store.set('cache:wire:1', bytes, 60)())).toBe(true)
        const save = sidecar.requests.find((request) => request.method === 'POST')
        const body = JSON.parse(save?.body ?? 'null') as Array<{ key: string; value: string; metadata: Record<string, string> }>
        expect(body).toEqual([{ key: 'cache:wire:1', value: JSON.parse(vector.wire) as string, metadata: { ttlInSeconds: '60' } }])
        expect(JSON.stringify(body[0]?.value)).toBe(vector.wire)
        expect(sidecar.state('cache').get('cache:wire:1')).toBe(vector.wire)
      })
    })

    it.each(vectors.values.map((vector) => [vector.wire, vector] as const))('reads %s written by Python', async (_wire, vector) => {
      await withStore(async (store) => {
        sidecar.state('cache').set('cache:python:1', vector.wire)
        const read = await store.get('cache:python:1')()
        expect(read).toEqual(E.right(O.some(new Uint8Array(Buffer.from(vector.msgpack_hex, 'hex')))))
      })
    })

    it('sends the TTL as a string and the body as compact JSON', () => {
      expect(saveBody('k', Uint8Array.of(1, 2), 3600)).toBe('[{"key":"k","value":"AQI=","metadata":{"ttlInSeconds":"3600"}}]')
    })

    it('writes a save body as JSON.stringify would, whatever the keys, values, etag and options', () => {
      const entry = fc.record({ key: fc.string({ unit: 'binary' }), value: fc.uint8Array({ maxLength: 64 }), ttlSeconds: fc.integer({ min: 1, max: 2 ** 31 }) })
      fc.assert(
        fc.property(fc.array(entry, { maxLength: 5 }), fc.boolean(), fc.option(fc.string({ unit: 'binary' }), { nil: undefined }), (entries, firstWrite, etag) => {
          const expected = JSON.stringify(
            entries.map(({ key, value, ttlSeconds }) => ({
              key,
              value: Buffer.from(value).toString('base64'),
              ...(etag === undefined ? {} : { etag }),
              ...(firstWrite ? { options: { concurrency: 'first-write' } } : {}),
              metadata: { ttlInSeconds: String(ttlSeconds) },
            })),
          )
          expect(saveItems(entries, firstWrite, etag)).toBe(expected)
        }),
      )
    })
  })

  describe('keys', () => {
    const awkward = ['a/b', 'a+b', '100%', 'what?', 'tag#1', 'with space', '..', '../..', '.', 'José/日本/😀', 'bulk', 'transaction']

    it.each(awkward)('%p round-trips and reaches only the state route', async (key) => {
      await withStore(async (store) => {
        expect(E.isRight(await store.set(key, Uint8Array.of(7), 60)())).toBe(true)
        expect(await store.get(key)()).toEqual(E.right(O.some(Uint8Array.of(7))))
        expect(E.isRight(await store.delete(key)())).toBe(true)
        expect(await store.get(key)()).toEqual(E.right(O.none))
        expect(sidecar.requests.map((request) => [request.route, request.key ?? null])).toEqual([
          ['save', null],
          ['get', key],
          ['delete', key],
          ['get', key],
        ])
      })
    })

    it('refuses a key containing || before any request', async () => {
      await withStore(async (store) => {
        for (const result of [await store.get('a||b')(), await store.set('a||b', Uint8Array.of(1), 60)(), await store.delete('a||b')()]) {
          expect(E.isLeft(result) && result.left._tag).toBe('KeyError')
        }
        expect(sidecar.requests).toHaveLength(0)
      })
    })
  })

  describe('answers', () => {
    it('maps 204 to a miss and 200 to bytes', async () => {
      await withStore(async (store) => {
        expect(await store.get('absent')()).toEqual(E.right(O.none))
      })
    })

    it('maps a Dapr error body to StoreRejected with status, errorCode and message', async () => {
      sidecar.fault({ route: 'get', kind: 'status', status: 500, errorCode: 'ERR_STATE_GET', message: 'fail to get k from state store cache: boom' })
      await withStore(async (store) => {
        const result = await store.get('k')()
        expect(E.isLeft(result) && result.left).toMatchObject({
          _tag: 'StoreRejected',
          status: 500,
          errorCode: 'ERR_STATE_GET',
          key: 'k',
          message: expect.stringContaining('fail to get k from state store cache: boom') as unknown,
        })
      })
    })

    it('maps an unknown store to StoreRejected ERR_STATE_STORE_NOT_FOUND', async () => {
      await withStore(
        async (store) => {
          const result = await store.set('k', Uint8Array.of(1), 60)()
          expect(E.isLeft(result) && result.left).toMatchObject({ status: 400, errorCode: 'ERR_STATE_STORE_NOT_FOUND' })
        },
        { storeName: 'nope' },
      )
    })

    it('maps a garbage 200 body to a SerializationError, not a crash', async () => {
      sidecar.state('cache').set('plain', '"not base64!"')
      sidecar.state('cache').set('object', '{"a":1}')
      await withStore(async (store) => {
        for (const key of ['plain', 'object']) {
          const result = await store.get(key)()
          expect(E.isLeft(result) && result.left).toMatchObject({ _tag: 'SerializationError', operation: 'deserialize', key })
        }
      })
      sidecar.fault({ route: 'get', kind: 'garbage' })
      await withStore(async (store) => {
        const result = await store.get('k')()
        expect(E.isLeft(result) && result.left._tag).toBe('SerializationError')
      })
    })

    it('maps a reset connection to ConnectionError', async () => {
      sidecar.fault({ route: 'get', kind: 'reset' })
      await withStore(async (store) => {
        const result = await store.get('k')()
        expect(E.isLeft(result) && result.left._tag).toBe('ConnectionError')
      })
    })

    it('maps a hanging sidecar to TimeoutError after its own deadline', async () => {
      sidecar.fault({ route: 'get', kind: 'hang' })
      await withStore(
        async (store) => {
          const result = await store.get('k')()
          expect(E.isLeft(result) && result.left).toMatchObject({ _tag: 'TimeoutError', timeoutMs: 100 })
        },
        { timeoutMs: 100 },
      )
    })

    it('maps a refused connection to ConnectionError', async () => {
      const gone = await startTestSidecar()
      const url = gone.url
      await gone.close()
      const store = daprStore({ daprUrl: url, env: {} })
      const result = await store.get('k')()
      expect(E.isLeft(result) && result.left._tag).toBe('ConnectionError')
      await store.close()
    })

    it('does not send a body over the limit, and says why', async () => {
      await withStore(
        async (store) => {
          const result = await store.set('big', new Uint8Array(2048), 60)()
          expect(E.isLeft(result) && result.left.message).toMatch(/not sent/)
          expect(sidecar.requests).toHaveLength(0)
        },
        { maxBodyBytes: 1024 },
      )
    })
  })

  describe('token', () => {
    it('sends dapr-api-token on every call, and a wrong token is a 401 StoreRejected', async () => {
      const guarded = await startTestSidecar({ apiToken: 's3cret' })
      const good = daprStore({ daprUrl: guarded.url, apiToken: 's3cret', env: {} })
      const bad = daprStore({ daprUrl: guarded.url, apiToken: 'wrong', env: {} })
      try {
        expect(E.isRight(await good.set('k', Uint8Array.of(1), 60)())).toBe(true)
        expect(await good.get('k')()).toEqual(E.right(O.some(Uint8Array.of(1))))
        const refused = await bad.get('k')()
        expect(E.isLeft(refused) && refused.left).toMatchObject({ status: 401, _tag: 'StoreRejected' })
        expect(E.isLeft(refused) && refused.left.message).not.toContain('wrong')
        expect(guarded.requests.every((request) => request.headers['dapr-api-token'] !== undefined)).toBe(true)
      } finally {
        await good.close()
        await bad.close()
        await guarded.close()
      }
    })
  })

  describe('readiness', () => {
    it('isReady follows the outbound probe, and waitUntilReady waits for it', async () => {
      await withStore(async (store) => {
        expect(await store.isReady()).toBe(true)
        sidecar.setReady(false)
        expect(await store.isReady()).toBe(false)
        const waiting = store.waitUntilReady({ timeoutMs: 5_000, intervalMs: 20 })
        setTimeout(() => sidecar.setReady(true), 60)
        await expect(waiting).resolves.toBeUndefined()
        sidecar.setReady(false)
        await expect(store.waitUntilReady({ timeoutMs: 100, intervalMs: 20 })).rejects.toBeInstanceOf(CacheConnectionError)
        sidecar.setReady(true)
      })
    })

    it('waitUntilReady probes until its time is up, the last probe at the deadline, and refuses bad options', async () => {
      await withStore(async (store) => {
        sidecar.setReady(false)
        sidecar.clearRequests()
        const started = Date.now()
        // An interval longer than the time left: it still waits out the time and probes at the end.
        setTimeout(() => sidecar.setReady(true), 250)
        await expect(store.waitUntilReady({ timeoutMs: 400, intervalMs: 1_000 })).resolves.toBeUndefined()
        expect(Date.now() - started).toBeGreaterThanOrEqual(250)
        sidecar.setReady(false)
        const failing = Date.now()
        await expect(store.waitUntilReady({ timeoutMs: 300, intervalMs: 1_000 })).rejects.toBeInstanceOf(CacheConnectionError)
        expect(Date.now() - failing).toBeGreaterThanOrEqual(290)
        for (const bad of [{ timeoutMs: 'x' }, { timeoutMs: -5 }, { intervalMs: 0 }, { timeout: 5 }]) {
          await expect(store.waitUntilReady(bad as never)).rejects.toBeInstanceOf(CacheOptionsError)
        }
        // 0: one probe. A probe that hangs is given only the time left, not the store's read timeout.
        await expect(store.waitUntilReady({ timeoutMs: 0 })).rejects.toBeInstanceOf(CacheConnectionError)
        const hang = sidecar.fault({ route: 'outbound', kind: 'hang' })
        const hanging = Date.now()
        await expect(store.waitUntilReady({ timeoutMs: 300 })).rejects.toBeInstanceOf(CacheConnectionError)
        expect(Date.now() - hanging).toBeLessThan(1_500)
        hang.remove()
        sidecar.setReady(true)
      })
    })
  })

  describe('options', () => {
    it('resolves the address: option, then DAPR_HTTP_ENDPOINT, then host and port', () => {
      expect(resolveDaprUrl('http://10.0.0.1:4000', { DAPR_HTTP_ENDPOINT: 'http://x:1' })).toBe('http://10.0.0.1:4000')
      expect(resolveDaprUrl(undefined, { DAPR_HTTP_ENDPOINT: 'https://dapr.local:8443' })).toBe('https://dapr.local:8443')
      expect(resolveDaprUrl(undefined, { DAPR_HTTP_HOST: 'sidecar', DAPR_HTTP_PORT: '3600' })).toBe('http://sidecar:3600')
      expect(resolveDaprUrl(undefined, { DAPR_RUNTIME_HOST: 'rt' })).toBe('http://rt:3500')
      expect(resolveDaprUrl(undefined, {})).toBe('http://127.0.0.1:3500')
    })

    it.each([
      [{ daprUrl: 'not a url' }, 'daprUrl'],
      [{ daprUrl: 'ftp://x' }, 'daprUrl'],
      [{ daprUrl: 'http://x:3500/v1.0' }, 'daprUrl'],
      [{ env: { DAPR_HTTP_PORT: 'abc' } }, 'DAPR_HTTP_HOST/DAPR_HTTP_PORT'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ connections: 1.5 }, 'connections'],
      [{ storeName: '' }, 'storeName'],
      [{ storeName: 'a||b' }, 'storeName'],
      [{ apiToken: 'a\nb' }, 'apiToken'],
    ])('refuses %p at construction, naming %s', (options, option) => {
      expect(() => daprStore({ env: {}, ...options })).toThrow(CacheOptionsError)
      expect(() => daprStore({ env: {}, ...options })).toThrow(`\`${option}\``)
    })

    it('never puts the token in an error message', () => {
      try {
        daprStore({ env: {}, apiToken: 'top-secret\n' })
      } catch (error) {
        expect(String(error)).not.toContain('top-secret')
      }
    })
  })
})

describe('parseValue', () => {
  it.each(['"AQI="', '"AQID"', '""'])('reads the base64 JSON string %s', (body) => {
    const bytes = Buffer.from(JSON.parse(body) as string, 'base64')
    expect(parseValue(body, 'k')).toEqual(E.right(new Uint8Array(bytes)))
  })

  it.each(['"AQI"', '"A QI="', '"AQ!I"', '"A=QI"', '"not base64!"', '123', '{"a":1}', 'not json', '"AQ I=AQI="'])('refuses %s', (body) => {
    const result = parseValue(body, 'k')
    expect(E.isLeft(result) && result.left).toMatchObject({ _tag: 'SerializationError', operation: 'deserialize', key: 'k' })
  })
})
