/**
 * A cross-check with a client nobody here wrote: the official Dapr JavaScript SDK (`@dapr/dapr`)
 * talks HTTP to the test sidecar, and reads what our Dapr store wrote (and the other way round).
 * Where the two disagree, the shared Dapr facts say which one follows the real runtime; the
 * findings are written down in docs/testing.md.
 */
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { cacheable } from '../../src/cacheable.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import { msgpackSerializer } from '../../src/Serializer.js'
import { startTestSidecar } from '../../src/testing/index.js'
import type { TestSidecar } from '../../src/testing/index.js'

describe('the official Dapr SDK against the test sidecar', () => {
  let sidecar: TestSidecar
  let client: DaprClient
  const serializer = msgpackSerializer()

  beforeAll(async () => {
    sidecar = await startTestSidecar({ appId: 'sdk-check' })
    client = new DaprClient({
      daprHost: '127.0.0.1',
      daprPort: String(sidecar.port),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      logger: { level: LogLevel.Error },
    })
    await client.start() // polls GET /v1.0/metadata until the sidecar answers
  }, 30_000)

  afterAll(async () => {
    await client.stop()
    await sidecar.close()
  })

  it('starts against it: the SDK polled /v1.0/metadata', () => {
    expect(sidecar.requests.some((request) => request.route === 'metadata' && request.status === 200)).toBe(true)
  })

  it('saves, gets, bulk-gets and deletes', async () => {
    await client.state.save('cache', [
      { key: 'sdk:object', value: { b: 2, a: 1 } },
      { key: 'sdk:string', value: 'plain' },
    ])
    expect(sidecar.state('cache').get('sdk:object')).toBe('{"a":1,"b":2}')
    expect(sidecar.state('cache').get('sdk:string')).toBe('"plain"')
    expect(await client.state.get('cache', 'sdk:object')).toEqual({ a: 1, b: 2 })
    expect(await client.state.get('cache', 'sdk:string')).toBe('plain')

    const bulk = (await client.state.getBulk('cache', ['sdk:string', 'sdk:missing', 'sdk:object'])) as Array<Record<string, unknown>>
    expect(bulk.map((item) => [item['key'], item['data']])).toEqual([
      ['sdk:string', 'plain'],
      ['sdk:missing', undefined],
      ['sdk:object', { a: 1, b: 2 }],
    ])

    await client.state.delete('cache', 'sdk:string')
    expect(sidecar.state('cache').get('sdk:string')).toBeUndefined()
    // A miss is a 204 with no body; the SDK hands back an empty string for it.
    expect(await client.state.get('cache', 'sdk:string')).toBe('')
  })

  it('reads what our Dapr store wrote: a base64 string of the MessagePack bytes', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {} })
    try {
      const value = { id: 7, tags: ['a', 'b'], price: 19.99 }
      expect(E.isRight(await store.set('ours:1', serializer.serialize(value), 60)())).toBe(true)
      const read = await client.state.get('cache', 'ours:1')
      expect(typeof read).toBe('string')
      expect(serializer.deserialize(Buffer.from(read as string, 'base64'))).toEqual(value)
    } finally {
      await store.close()
    }
  })

  it('and our cache reads what the SDK wrote in the Python wire format', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {} })
    try {
      let calls = 0
      const getUser = cacheable({ store, name: 'myapp.services.get_user' })(async (id: number) => {
        calls++
        return { id, from: 'computed' }
      })
      // The key the Python library (and we) build for get_user(123).
      const key = 'cache:myapp.services.get_user:2e35095596df2383'
      const bytes = serializer.serialize({ id: 123, from: 'written by another client' })
      await client.state.save('cache', [{ key, value: Buffer.from(bytes).toString('base64'), metadata: { ttlInSeconds: '60' } }])
      expect(await getUser(123)).toEqual({ id: 123, from: 'written by another client' })
      expect(calls).toBe(0)
      expect(await store.get(key)()).toEqual(E.right(O.some(new Uint8Array(bytes))))
    } finally {
      await store.close()
    }
  })

  it('disagrees on keys with a slash: the SDK does not encode them, and the runtime (like the test sidecar) answers 404', async () => {
    await expect(client.state.get('cache', 'a/b')).rejects.toThrow(/ERR_DIRECT_INVOKE/)
    const store = daprStore({ daprUrl: sidecar.url, env: {} })
    try {
      expect(E.isRight(await store.set('a/b', Uint8Array.of(1), 60)())).toBe(true)
      expect(await store.get('a/b')()).toEqual(E.right(O.some(Uint8Array.of(1))))
    } finally {
      await store.close()
    }
  })
})
